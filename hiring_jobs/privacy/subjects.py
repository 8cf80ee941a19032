"""Which rows and which jobs are about a person, read from the inventory's declarations.

Export and erasure both start here, so they agree on what "about them" means:

- a row of a table is about them when one of the table's `subjects` expressions gives
  their `users.id` (privacy/inventory.py);
- a job is about them when one of its arguments is an id (inventory.ARGUMENTS) of a row
  about them: `user_id=7` directly, `resume_id=12` through the resumes table's subjects,
  `payload_ids=[3, 4]` through the payloads' subjects, and so on.

Every statement binds the user id and the ids as parameters; the table, column and
expression text comes from the inventory only (code, reviewed), never from input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.orm import Session

from hiring_jobs.models import User
from hiring_jobs.privacy import inventory
from hiring_jobs.privacy.inventory import ArgumentKind, AtErasure, Table
from hiring_jobs.sql import PRIVACY, QUEUE, SQL, run

SUBJECT_PARAM = "subject_id"


class NoSuchUser(LookupError):
    """The id names no user: nothing to export or erase."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"no user with id {user_id}")
        self.user_id = user_id


def get_user(session: Session, user_id: int, *, lock: bool = False) -> User:
    """The user, locked FOR UPDATE when asked; `NoSuchUser` when the id is unknown."""
    user = session.get(User, user_id, with_for_update=lock)
    if user is None:
        raise NoSuchUser(user_id)
    return user


def about_condition(table: Table, *, owner_only: bool = False) -> str | None:
    """SQL true for the rows of `table` about `%(subject_id)s`; None for a table without
    subjects.

    `owner_only` keeps the first subject only: the person the row belongs to, as opposed
    to one it merely mentions (a notification's `related_user_id`).
    """
    subjects = table.subjects[:1] if owner_only else table.subjects
    if not subjects:
        return None
    return " OR ".join(f"({expression}) = %({SUBJECT_PARAM})s" for expression in subjects)


def run_about(
    session: Session, name: str, table: Table, user_id: int, *, owner_only: bool = False
) -> CursorResult[Any] | None:
    """Run the template `name` (sql/privacy.sql) for `table`'s rows about the user; None
    for a table without subjects."""
    condition = about_condition(table, owner_only=owner_only)
    if condition is None:
        return None
    statement = PRIVACY.render(name, table=table.name, about=SQL(condition))
    return run(session, statement, {SUBJECT_PARAM: user_id})


def tables_with_subjects() -> list[Table]:
    return [table for table in inventory.TABLES if table.subjects]


def scrubs_mentions(table: Table) -> bool:
    """Whether other people's rows of `table` are kept and scrubbed where they name someone.

    Such tables (notifications) name their owner first: a row is erased with its owner,
    and only scrubbed when it mentions the subject in another column.
    """
    return any(field.at_erasure == AtErasure.SCRUB for field in table.personal.values())


def row_ids_about(
    session: Session, table: Table, user_id: int, *, owner_only: bool = False
) -> list[int]:
    """The `id`s of the rows of `table` about the user (every table with subjects has one)."""
    found = run_about(session, "row_ids_about", table, user_id, owner_only=owner_only)
    return [] if found is None else list(found.scalars())


def rows_about(session: Session, table: Table, user_id: int) -> list[dict[str, Any]]:
    """Every column of the rows of `table` about the user, in a stable order."""
    found = run_about(session, "rows_about", table, user_id)
    return [] if found is None else [dict(row._mapping) for row in found]


def count_about(session: Session, table: Table, user_id: int, *, owner_only: bool = False) -> int:
    found = run_about(session, "count_about", table, user_id, owner_only=owner_only)
    return 0 if found is None else int(found.scalar() or 0)


def jobs_about(session: Session, user_id: int) -> list[int]:
    """Ids of the Procrastinate jobs whose arguments refer to the user or their rows, sorted."""
    documents = sorted(_argument_documents(session, user_id))
    if not documents:
        return []
    return list(run(session, QUEUE["jobs_about"], {"documents": documents}).scalars())


def _argument_documents(session: Session, user_id: int) -> set[str]:
    """`{"resume_id": 12}` / `{"resume_ids": [12]}`: one jsonb document per id argument value."""
    ids_by_table: dict[str, list[int]] = {}
    documents: set[str] = set()
    for name, argument in inventory.ARGUMENTS.items():
        if argument.kind != ArgumentKind.ID or argument.refers_to is None:
            continue
        table_name = argument.refers_to
        if table_name not in ids_by_table:
            ids_by_table[table_name] = _ids_about(session, table_name, user_id)
        documents.update(_documents(name, ids_by_table[table_name], many=argument.many))
    return documents


def _ids_about(session: Session, table_name: str, user_id: int) -> list[int]:
    if table_name == "users":
        return [user_id]
    table = inventory.table(table_name)
    # A notification that merely names them belongs to someone else, and so do that
    # person's jobs about it (`mark_all_read(up_to_id=...)`).
    return row_ids_about(session, table, user_id, owner_only=scrubs_mentions(table))


def _documents(name: str, ids: Iterable[int], *, many: bool) -> list[str]:
    return [json.dumps({name: [row_id] if many else row_id}) for row_id in ids]
