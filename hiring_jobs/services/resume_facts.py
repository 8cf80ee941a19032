"""Facts read from resume text: years of experience and education.

Heuristics over plain text, tuned for the usual resume layout: section headings on their own
line ("Experience", "Education"), one date range per job, one line per degree.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

_EXPERIENCE_HEADINGS = {
    "experience",
    "work experience",
    "professional experience",
    "relevant experience",
    "employment",
    "employment history",
    "work history",
    "career history",
}
_EDUCATION_HEADINGS = {
    "education",
    "education and training",
    "education & training",
    "academic background",
    "qualifications",
}
_OTHER_HEADINGS = {
    "summary",
    "profile",
    "about",
    "about me",
    "skills",
    "technical skills",
    "projects",
    "certifications",
    "languages",
    "interests",
    "publications",
    "awards",
    "references",
    "volunteering",
    "contact",
}

_MONTHS = {calendar.month_name[n].lower(): n for n in range(1, 13)}
_MONTHS |= {calendar.month_abbr[n].lower(): n for n in range(1, 13)} | {"sept": 9}
_MONTH = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?:19|20)\d{2}"
_POINT = rf"(?:{_MONTH}\s+{_YEAR}|\d{{1,2}}/{_YEAR}|{_YEAR})"
_ONGOING = r"(?:present|current|now|today|date)"
_RANGE = re.compile(
    rf"(?<![\w/])(?P<start>{_POINT})\s*(?:-|\u2013|\u2014|to|until|till|through)\s*"
    rf"(?P<end>{_POINT}|{_ONGOING})(?![\w/])",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        (
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ),
        start=1,
    )
}
_COUNT = r"(?P<count>\d{1,2}(?:\.\d)?|" + "|".join(_NUMBER_WORDS) + ")"
# "7 years of experience", "over ten years' professional experience", "5+ years".
_CLAIM = re.compile(
    rf"\b{_COUNT}\s*(?P<plus>\+)?\s*(?:years?|yrs?)\b\.?['\u2019]?"
    r"(?P<experience>\s+(?:of\s+)?(?:(?:professional|industry|relevant|hands-on|commercial|"
    r"total|work|working)\s+)*experience\b)?",
    re.IGNORECASE,
)

_DEGREES = [
    ("PhD", r"\bPh\.?\s?D\b\.?|\bD\.?Phil\b\.?|\bDoctor\s+of\s+\w+|\bDoctorate\b"),
    (
        "Master",
        r"\bMaster(?:'s|\u2019s|s)?(?=\s+(?:of|in|degree)\b)|\bMaster(?:'s|\u2019s)"
        r"|\bM\.?Sc\b\.?|\bM\.?Eng\b\.?|\bM\.?Phil\b\.?|\bMBA\b|\bM\.?F\.?A\b\.?"
        r"|\bM\.[SA]\.|\b(?-i:MS|MA)(?=\s+in\b)",
    ),
    (
        "Bachelor",
        r"\bBachelor(?:'s|\u2019s|s)?\b|\bB\.?Sc\b\.?|\bB\.?Eng\b\.?|\bB\.?Tech\b\.?"
        r"|\bB\.?F\.?A\b\.?|\bB\.?Com\b\.?|\bB\.[SA]\.|\b(?-i:BS|BA)(?=\s+in\b)",
    ),
    (
        "Associate",
        r"\bAssociate(?:'s|\u2019s|s)?\s+(?:degree|of\s+(?:Arts|Science|Applied))|\bA\.A\.S\.",
    ),
    ("Diploma", r"\bDiploma\b"),
]
_DEGREE = re.compile(
    "|".join(f"(?P<{level}>{pattern})" for level, pattern in _DEGREES), re.IGNORECASE
)
_INSTITUTION = re.compile(
    r"\b(?:University|Universit\w+|College|Institute|Institut|School|Academy|Polytechnic"
    r"|Politecnico|Hochschule|[EÉ]cole|Conservatory|Bootcamp)\b",
    re.IGNORECASE,
)
_SEGMENT_BREAK = re.compile(r"\s*(?:[,;|()]|\s[-\u2013\u2014]\s|\s(?:at|from)\s)\s*")
_SHORT_PARENTHETICAL = re.compile(r"\s*\((?:[A-Za-z.]{1,10})\)")
_FIELD_LEAD = re.compile(r"^(?:(?:degree|of|in)\b\s*|[:.]\s*)+", re.IGNORECASE)
_DEGREE_SUBJECT = re.compile(
    r"^(?:Science|Arts|Engineering|Fine Arts|Applied Science|Technology|Philosophy)\s+in\s+",
    re.IGNORECASE,
)
_IMPLIED_FIELD = {"mba": "Business Administration"}
_YEAR_IN_LINE = re.compile(rf"(?<!\d){_YEAR}(?!\d)")


def years_of_experience(text: str, *, today: date | None = None) -> float | None:
    """Total years of work experience, to one decimal, or None when the text gives no clue.

    Two sources: explicit claims ("7 years of experience", "5+ years") and the date ranges
    of jobs ("2016 - 2021", "Jan 2019 - Present"), merged so overlapping jobs count once.
    The larger wins: resumes often list only recent jobs, and summaries often round down.
    A bare year stands for its middle, so "2016 - 2021" is five years; a month range
    includes its end month, so "Jan 2019 - Mar 2019" is three months. "Present" is `today`.
    Date ranges in the education section (or on lines naming a degree) are not work.
    """
    today = today or date.today()
    candidates = [_claimed_years(text), _years_from_ranges(_work_lines(text), today)]
    known = [value for value in candidates if value is not None]
    return round(max(known), 1) if known else None


def education(text: str) -> list[dict]:
    """Degrees found in the text, in order: level, and field, institution, year when shown.

    Each item is {"level": "PhD"|"Master"|"Bachelor"|"Associate"|"Diploma",
    "field": str|None, "institution": str|None, "year": int|None}. The degree's own line is
    read first; when it lacks the institution or year, the next line fills the gap
    (the "BSc Physics" / "University of Leeds, 2014" layout). The year is the latest on the line.
    """
    sections = _sections(text)
    lines = sections["education"] or sections["all"]
    found: list[dict] = []
    for index, line in enumerate(lines):
        entry = _degree_entry(line, lines[index + 1] if index + 1 < len(lines) else "")
        if entry and entry not in found:
            found.append(entry)
    return found


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {"experience": [], "education": [], "all": []}
    current = "other"
    for raw in text.splitlines():
        line = raw.strip()
        heading = line.lower().rstrip(":").strip()
        if heading in _EXPERIENCE_HEADINGS:
            current = "experience"
        elif heading in _EDUCATION_HEADINGS:
            current = "education"
        elif heading in _OTHER_HEADINGS:
            current = "other"
        elif line:
            sections["all"].append(line)
            if current != "other":
                sections[current].append(line)
    return sections


def _work_lines(text: str) -> list[str]:
    sections = _sections(text)
    if sections["experience"]:
        return sections["experience"]
    education_lines = set(sections["education"])
    return [
        line for line in sections["all"] if line not in education_lines and not _DEGREE.search(line)
    ]


def _claimed_years(text: str) -> float | None:
    claims = []
    for match in _CLAIM.finditer(text):
        if not (match.group("plus") or match.group("experience")):
            continue  # "a 2 years contract" is not a claim of experience
        raw = match.group("count").lower()
        value = float(_NUMBER_WORDS.get(raw, raw))
        if 0 < value <= 60:
            claims.append(value)
    return max(claims, default=None)


def _years_from_ranges(lines: list[str], today: date) -> float | None:
    days_in_year = 366 if calendar.isleap(today.year) else 365
    now = today.year + (today.timetuple().tm_yday - 1) / days_in_year
    spans = []
    for match in _RANGE.finditer("\n".join(lines)):
        start = _as_year_fraction(match.group("start"), is_end=False)
        if re.fullmatch(_ONGOING, match.group("end"), re.IGNORECASE):
            end = now
        else:
            end = min(_as_year_fraction(match.group("end"), is_end=True), now)
        if 1950 <= start <= end:
            spans.append((start, end))
    return _merged_length(spans) if spans else None


def _as_year_fraction(point: str, *, is_end: bool) -> float:
    """A date as a fractional year: a month's start, or its end when closing a range."""
    year = int(point[-4:])
    month_text = re.match(r"[A-Za-z]+|\d{1,2}(?=/)", point)
    if not month_text:
        return year + 0.5  # a bare year: its middle
    word = month_text.group().lower()
    month = int(word) if word.isdigit() else _MONTHS[word]
    if not 1 <= month <= 12:
        return year + 0.5
    return year + (month if is_end else month - 1) / 12


def _merged_length(spans: list[tuple[float, float]]) -> float:
    """Length of the union of the spans: overlapping jobs count once."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        total += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return total


def _degree_entry(line: str, next_line: str) -> dict | None:
    line = _SHORT_PARENTHETICAL.sub("", line)
    match = _DEGREE.search(line)
    if not match:
        return None
    level = match.lastgroup
    institution = _institution(line, match)
    years = [int(y) for y in _YEAR_IN_LINE.findall(line)]
    # Only a next line that names a school is part of this degree.
    next_institution = None if _DEGREE.search(next_line) else _institution(next_line, None)
    if next_institution and (institution is None or not years):
        institution = institution or next_institution
        years = years or [int(y) for y in _YEAR_IN_LINE.findall(next_line)]
    return {
        "level": level,
        "field": _field(line, match),
        "institution": institution,
        "year": max(years, default=None),
    }


def _field(line: str, match: re.Match[str]) -> str | None:
    rest = _SEGMENT_BREAK.split(line[match.end() :], maxsplit=1)[0]
    rest = _DEGREE_SUBJECT.sub("", _FIELD_LEAD.sub("", rest.strip()).strip())
    rest = rest.strip(" .:")
    if not rest:
        return _IMPLIED_FIELD.get(match.group().lower().replace(".", ""))
    if _INSTITUTION.search(rest) or _YEAR_IN_LINE.search(rest) or len(rest) > 60:
        return None
    return rest


def _institution(line: str, degree: re.Match[str] | None) -> str | None:
    position = 0
    for segment in _SEGMENT_BREAK.split(line):
        start = line.find(segment, position)
        position = start + len(segment)
        overlaps_degree = degree is not None and start < degree.end() and degree.start() < position
        if segment and not overlaps_degree and _INSTITUTION.search(segment):
            return _YEAR_IN_LINE.sub("", segment).strip(" ,.-")
    return None
