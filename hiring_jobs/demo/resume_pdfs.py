"""Realistic demo resume PDFs, plus the broken uploads the parser must survive.

Only fpdf2 core fonts are used, so all text must be latin-1: plain hyphens instead of en dashes,
no curly quotes.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

# `years_experience` below is what a reader counts from the date ranges on this day;
# "Present" keeps running after it, like for a real candidate.
REFERENCE_DATE = date(2025, 1, 1)


@dataclasses.dataclass(frozen=True)
class ExperienceEntry:
    title: str
    company: str
    dates: str  # as printed, e.g. "Mar 2020 - Present"
    bullets: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class DemoCandidate:
    name: str
    email: str
    phone: str
    location: str
    headline: str
    summary: str
    experience: tuple[ExperienceEntry, ...]
    education: tuple[str, ...]  # one printed line per degree
    skills: tuple[str, ...]  # canonical names from hiring_jobs/data/skills.json
    years_experience: float  # intended total, as of REFERENCE_DATE

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


DEMO_CANDIDATES: list[DemoCandidate] = [
    DemoCandidate(
        name="Amara Okafor",
        email="amara.okafor@example.com",
        phone="+49 30 1234 5678",
        location="Berlin, Germany",
        headline="Senior Backend Engineer",
        summary=(
            "Backend engineer with 8 years of experience building payment and marketplace "
            "platforms in Python and Go. I care about boring, observable systems: clear data "
            "models in PostgreSQL, idempotent background jobs and fast incident response."
        ),
        experience=(
            ExperienceEntry(
                "Senior Backend Engineer",
                "Finlytics GmbH",
                "Mar 2020 - Present",
                (
                    "Designed Go microservices that settle two million card payments a day on "
                    "PostgreSQL and Apache Kafka.",
                    "Replaced a Celery and Redis setup with a Postgres-backed job queue, cutting "
                    "infrastructure cost by 30%.",
                    "Run the on-call rotation for the payments team; mentor four engineers.",
                ),
            ),
            ExperienceEntry(
                "Backend Engineer",
                "ShopStream",
                "Jun 2016 - Feb 2020",
                (
                    "Built REST APIs in Django serving 40,000 requests per minute at peak.",
                    "Moved deployment to Docker and Kubernetes with CI/CD on GitHub Actions.",
                ),
            ),
        ),
        education=(
            "M.Sc. Computer Science - Technical University of Munich, 2016",
            "B.Sc. Computer Science - University of Lagos, 2013",
        ),
        skills=(
            "Python",
            "Go",
            "PostgreSQL",
            "Django",
            "Apache Kafka",
            "Celery",
            "Redis",
            "Docker",
            "Kubernetes",
            "REST APIs",
            "Microservices",
            "CI/CD",
            "GitHub Actions",
        ),
        years_experience=8.6,
    ),
    DemoCandidate(
        name="Lucas Ferreira",
        email="lucas.ferreira@example.com",
        phone="+351 21 555 0199",
        location="Lisbon, Portugal",
        headline="Frontend Engineer",
        summary=(
            "Frontend engineer with 6 years of experience shipping fast, accessible web apps. "
            "Happiest turning a Figma file into a typed, tested component library."
        ),
        experience=(
            ExperienceEntry(
                "Frontend Engineer",
                "Brightdesk",
                "Sep 2021 - Present",
                (
                    "Rebuilt the customer dashboard in React and TypeScript with Next.js; "
                    "Largest Contentful Paint dropped from 4.1 s to 1.6 s.",
                    "Created the Storybook design-system package used by five product teams.",
                    "Raised the WCAG audit score to AA across all public pages.",
                ),
            ),
            ExperienceEntry(
                "Web Developer",
                "Agência Pixel",
                "Jan 2019 - Aug 2021",
                (
                    "Delivered 30+ marketing sites in JavaScript, HTML and CSS with Tailwind CSS.",
                    "Introduced Jest and Cypress tests to every client project.",
                ),
            ),
        ),
        education=("B.Sc. Informatics Engineering, University of Porto, 2018",),
        skills=(
            "TypeScript",
            "JavaScript",
            "React",
            "Next.js",
            "Redux",
            "GraphQL",
            "HTML",
            "CSS",
            "Tailwind CSS",
            "Storybook",
            "Jest",
            "Cypress",
            "Accessibility",
            "Figma",
        ),
        years_experience=6.0,
    ),
    DemoCandidate(
        name="Priya Raman",
        email="priya.raman@example.com",
        phone="+44 20 7946 0123",
        location="London, United Kingdom",
        headline="Senior Data Scientist",
        summary=(
            "Data scientist with 7 years of experience turning clinical and retail data into "
            "models people trust. Strong in experiment design and in explaining uncertainty."
        ),
        experience=(
            ExperienceEntry(
                "Senior Data Scientist",
                "Helio Health",
                "Apr 2021 - Present",
                (
                    "Built readmission-risk models in PyTorch and scikit-learn now used in "
                    "twelve hospitals.",
                    "Own the A/B testing framework and the weekly experiment review.",
                ),
            ),
            ExperienceEntry(
                "Data Scientist",
                "Northwind Retail",
                "Oct 2018 - Mar 2021",
                (
                    "Forecast demand for 40,000 products with Apache Spark; stock-outs fell 18%.",
                    "Built NLP classifiers for customer reviews and Tableau dashboards for buyers.",
                ),
            ),
            ExperienceEntry(
                "Research Assistant",
                "University of Cambridge",
                "2017 - 2018",
                ("Statistical analysis of longitudinal health data in R.",),
            ),
        ),
        education=(
            "PhD in Statistics, University of Cambridge, 2018",
            "M.Sc. Applied Mathematics, University of Warwick, 2014",
        ),
        skills=(
            "Python",
            "R",
            "SQL",
            "Pandas",
            "scikit-learn",
            "PyTorch",
            "Machine Learning",
            "Natural Language Processing",
            "Statistics",
            "A/B Testing",
            "Apache Spark",
            "Data Visualization",
            "Jupyter",
            "Tableau",
        ),
        years_experience=7.2,
    ),
    DemoCandidate(
        name="Tomasz Nowak",
        email="tomasz.nowak@example.com",
        phone="+48 22 555 0147",
        location="Warsaw, Poland",
        headline="Site Reliability Engineer",
        summary=(
            "Infrastructure engineer, 10+ years keeping Linux fleets and Kubernetes clusters "
            "boring. I automate the toil and write the runbooks nobody else wants to."
        ),
        experience=(
            ExperienceEntry(
                "Site Reliability Engineer",
                "CloudNine Logistics",
                "Feb 2022 - Present",
                (
                    "Run 14 Kubernetes clusters on AWS, provisioned with Terraform and Helm.",
                    "Built Prometheus and Grafana alerting; paging volume down 60%.",
                ),
            ),
            ExperienceEntry(
                "DevOps Engineer",
                "Mediaworks",
                "May 2017 - Jan 2022",
                (
                    "Moved 200 services from hand-built VMs to Docker with Ansible and Jenkins.",
                    "Wrote CI/CD pipelines and Python tooling for blue-green deploys.",
                ),
            ),
            ExperienceEntry(
                "Linux Administrator",
                "Telekom Serwis",
                "2014 - 2017",
                ("Administered 300 Linux servers and PostgreSQL replicas; shell scripting.",),
            ),
        ),
        education=("B.Eng. Computer Engineering, Warsaw University of Technology, 2014",),
        skills=(
            "Kubernetes",
            "Terraform",
            "AWS",
            "Docker",
            "Helm",
            "Ansible",
            "Prometheus",
            "Grafana",
            "Linux",
            "Shell Scripting",
            "Python",
            "CI/CD",
            "Jenkins",
            "PostgreSQL",
            "Site Reliability Engineering",
        ),
        # The 2014 - 2017 job overlaps the one that starts in May 2017; counted once.
        years_experience=10.5,
    ),
    DemoCandidate(
        name="Zoë Müller",
        email="zoe.mueller@example.com",
        phone="+41 44 555 0170",
        location="Zurich, Switzerland",
        headline="Product Designer",
        summary=(
            "Product designer with 7 years of experience in fintech and healthcare. I run user "
            "research, prototype quickly and keep design systems honest."
        ),
        experience=(
            ExperienceEntry(
                "Product Designer",
                "Lumen Bank",
                "Jun 2019 - Present",
                (
                    "Lead designer for the mobile banking app (1.2 million users); UX design and "
                    "UI design from discovery to hand-off in Figma.",
                    "Built and maintain the design system; usability testing every sprint.",
                ),
            ),
            ExperienceEntry(
                "Freelance UX Designer",
                "Self-employed",
                "Jan 2018 - Dec 2020",
                (
                    "User research, wireframing and prototyping for eight start-ups, in Sketch "
                    "and Adobe Illustrator.",
                ),
            ),
        ),
        education=(
            "Bachelor of Arts in Visual Communication, Zurich University of the Arts, 2017",
        ),
        skills=(
            "Figma",
            "Sketch",
            "UX Design",
            "UI Design",
            "User Research",
            "Prototyping",
            "Wireframing",
            "Usability Testing",
            "Design Systems",
            "Accessibility",
            "Adobe Illustrator",
            "HTML",
            "CSS",
        ),
        # Freelance work overlapped the first years at Lumen Bank: 7 years, not 8.5.
        years_experience=7.0,
    ),
    DemoCandidate(
        name="Daniel Kim",
        email="daniel.kim@example.com",
        phone="+1 416 555 0133",
        location="Toronto, Canada",
        headline="Junior Software Developer",
        summary=(
            "Computer science graduate who enjoys full-stack work: small Python services, "
            "React front ends and the SQL in between. Looking for a team that reviews code."
        ),
        experience=(
            ExperienceEntry(
                "Junior Developer",
                "Northbyte",
                "Jan 2024 - Present",
                (
                    "Build internal tools with React, Node.js and PostgreSQL.",
                    "Fixed 120 bugs in the first six months; wrote the team's Git guide.",
                ),
            ),
            ExperienceEntry(
                "Software Developer Intern",
                "Maple Analytics",
                "May 2023 - Aug 2023",
                ("Wrote Python data-cleaning scripts and a Java reporting service.",),
            ),
        ),
        education=(
            "Bachelor of Science in Computer Science, University of Toronto, 2023",
            "Diploma in Web Development, Seneca College, 2019",
        ),
        skills=(
            "Python",
            "JavaScript",
            "React",
            "Node.js",
            "SQL",
            "PostgreSQL",
            "Java",
            "Git",
            "HTML",
            "CSS",
        ),
        years_experience=1.3,
    ),
]


def write_resume_pdf(candidate: DemoCandidate, path: Path) -> Path:
    """Write `candidate`'s one- or two-page resume to `path` and return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _resume_document(candidate).output(str(path))
    return path


def write_demo_resumes(directory: Path) -> list[Path]:
    """Write every demo candidate's resume into `directory`, named after the candidate."""
    return [write_resume_pdf(c, directory / f"{c.slug}.pdf") for c in DEMO_CANDIDATES]


def write_encrypted_pdf(path: Path, *, user_password: str = "secret") -> Path:
    """A real resume that only opens with a password, like an exported "protected" CV."""
    pdf = _resume_document(DEMO_CANDIDATES[0])
    pdf.set_encryption(owner_password="owner-" + user_password, user_password=user_password)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def write_image_only_pdf(path: Path) -> Path:
    """A "scanned" resume: one page holding a picture of text, and no text layer."""
    image = Image.new("L", (1240, 1754), color=255)  # A4 at 150 dpi, greyscale
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    lines = [DEMO_CANDIDATES[5].name, DEMO_CANDIDATES[5].headline, "", "Experience"]
    lines += [f"{e.title} - {e.company}" for e in DEMO_CANDIDATES[5].experience]
    for number, line in enumerate(lines):
        draw.text((120, 140 + number * 60), line, fill=0, font=font)
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.image(image, x=0, y=0, w=pdf.w, h=pdf.h)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def write_corrupt_pdf(path: Path) -> Path:
    """A real resume cut off part-way, like an interrupted upload: header present, rest gone."""
    data = bytes(_resume_document(DEMO_CANDIDATES[1]).output())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 3])
    return path


def _resume_document(candidate: DemoCandidate) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_title(f"{candidate.name} - Resume")
    pdf.set_author(candidate.name)
    # A fixed timestamp: the same candidate always gives the same bytes.
    pdf.set_creation_date(datetime(2025, 1, 1, tzinfo=UTC))
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    _header(pdf, candidate)
    _section(pdf, "Summary")
    _paragraph(pdf, candidate.summary)
    _section(pdf, "Experience")
    for entry in candidate.experience:
        _experience(pdf, entry)
    _section(pdf, "Education")
    for line in candidate.education:
        _paragraph(pdf, line)
    _section(pdf, "Skills")
    _paragraph(pdf, ", ".join(candidate.skills))
    return pdf


def _header(pdf: FPDF, candidate: DemoCandidate) -> None:
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(0, 10, candidate.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 12)
    pdf.cell(0, 7, candidate.headline, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.set_text_color(90, 90, 90)
    contact = f"{candidate.email}  |  {candidate.phone}  |  {candidate.location}"
    pdf.cell(0, 6, contact, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)


def _section(pdf: FPDF, title: str) -> None:
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(160, 160, 160)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(2)


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")


def _experience(pdf: FPDF, entry: ExperienceEntry) -> None:
    pdf.set_font("Helvetica", "B", 10.5)
    pdf.cell(0, 6, f"{entry.title} - {entry.company}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "I", 9.5)
    pdf.cell(0, 5, entry.dates, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for bullet in entry.bullets:
        pdf.set_x(pdf.l_margin + 3)
        pdf.multi_cell(0, 5, f"-  {bullet}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
