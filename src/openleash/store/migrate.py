"""Schema migrations: numbered ``.sql`` files applied in order, each recorded once.

``migrations/NNNN_name.sql`` are shipped as package data and read with :mod:`importlib.resources`
(the PostgreSQL spelling of the same versions is in ``migrations/postgres/``).
:func:`migrate` applies every pending file inside one write transaction, so a database is either
fully at the new version or untouched, and two processes starting at once cannot both apply a file:
the second one waits for the write lock, then finds the versions already recorded.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from openleash.domain.timefmt import iso_ms

_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available(dialect: str | None = None) -> list[Migration]:
    """Every shipped migration, by version: SQLite's, or those in the ``dialect`` subfolder.
    Raises if two files claim the same version."""
    folder = resources.files("openleash.store").joinpath("migrations")
    if dialect is not None:
        folder = folder.joinpath(dialect)
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise RuntimeError(f"two migrations with version {version}")
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def statements(script: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit the open transaction)."""
    result: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            result.append(pending.strip())
            pending = ""
    if _code(pending):
        raise ValueError(f"incomplete SQL statement at the end of the script: {pending.strip()!r}")
    return result


def _code(text: str) -> str:
    return "".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> list[int]:
    """Apply pending migrations in one ``BEGIN IMMEDIATE`` transaction; return their versions.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Callers that serialize writers
    with their own lock hold it around this call.
    """
    todo = available() if migrations is None else migrations
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_CREATE_TABLE)
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        known = {m.version for m in todo}
        if applied - known:
            newest = max(applied - known)
            raise RuntimeError(
                f"the database has schema version {newest}, newer than this OpenLeash knows; "
                "upgrade OpenLeash"
            )
        done: list[int] = []
        for migration in todo:
            if migration.version in applied:
                continue
            for statement in statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (migration.version, _now()),
            )
            done.append(migration.version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done


def _now() -> str:
    return iso_ms(datetime.now(UTC))
