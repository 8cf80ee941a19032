"""The README's Python examples run, each in a fresh interpreter, against a real database:
they cannot drift from the code. A block after `<!-- not run: why -->` is skipped."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import Resume
from tests.support.factories import make_user
from tests.support.jobs import jobs
from tests.support.processes import ROOT, cli_env
from tests.web.helpers import pdf_bytes

BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.DOTALL)
# What the examples take as given ("an existing user's id and an uploaded PDF's bytes").
GIVEN = """\
import os, pathlib
user_id = int(os.environ["README_USER_ID"])
pdf_bytes = pathlib.Path(os.environ["README_PDF"]).read_bytes()
"""


def examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    found = [m for m in BLOCK.finditer(text) if not m.group("before").startswith("<!-- not run")]
    return [m.group("code") for m in found]


def test_the_readme_has_examples_and_they_import_from_the_public_api() -> None:
    codes = examples()
    ours = [code for code in codes if re.search(r"^(from|import) hiring_jobs", code, re.M)]
    assert len(ours) >= 2 and all("from hiring_jobs import " in code for code in ours)
    assert not any("hiring_jobs.queue." in code or "hiring_jobs.db" in code for code in ours)


@pytest.mark.parametrize("index", range(len(examples())))
def test_a_readme_example_runs(
    index: int, database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
    pdf = tmp_path / "cv.pdf"
    pdf.write_bytes(pdf_bytes())
    env = cli_env(
        DATABASE_URL=database_url,
        HIRING_JOBS_DATA_DIR=str(tmp_path / "data"),
        README_USER_ID=str(user_id),
        README_PDF=str(pdf),
    )
    code = GIVEN + examples()[index]
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]

    # What an example committed, it committed whole: a stored resume has its parse job.
    with session_factory() as session:
        resumes = session.scalars(select(Resume).where(Resume.user_id == user_id)).all()
        parses = [job for job in jobs(session, "resume.parse") if job["status"] == "todo"]
    assert sorted(job["args"]["resume_id"] for job in parses) == sorted(r.id for r in resumes)
