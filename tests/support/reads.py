"""How many rows a table served to statements: the invariant behind "this plan holds"."""

from __future__ import annotations

import psycopg


def rows_read(conn: psycopg.Connection, table: str) -> int:
    """Rows `table` has served so far, by sequential and index scans: the counts of every
    connection that flushed them (`flush_counts`), this one's included."""
    flush_counts(conn)
    row = conn.execute(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
        " FROM pg_stat_user_tables WHERE relname = %s",
        (table,),
    ).fetchone()
    assert row is not None
    return int(row[0])


# A backend flushes its counts as it goes idle after this, before it answers.
FLUSH_COUNTS = "SELECT pg_stat_force_next_flush()"


def flush_counts(conn: psycopg.Connection) -> None:
    """Make this connection's table counts visible to every other one, now."""
    conn.execute(FLUSH_COUNTS)
