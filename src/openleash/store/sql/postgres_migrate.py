"""Schema migrations on PostgreSQL: ``migrations/postgres/NNNN_name.sql``, each recorded once.

The versions are those of the SQLite migrations, spelled for PostgreSQL. Every pending file is
applied inside one transaction (PostgreSQL's DDL is transactional, so a database is either fully
at the new version or untouched), under a session-level advisory lock: replicas starting at once
take turns, and the later ones find the versions already recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from openleash.domain.timefmt import iso_ms
from openleash.store.migrate import Migration, available
from openleash.store.sql.postgres_queries import MIGRATION_LOCK_KEY

#: The folder of ``migrations/`` holding the PostgreSQL files.
DIALECT = "postgres"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT COLLATE "C" NOT NULL
)
"""


def postgres_migrations() -> list[Migration]:
    """Every shipped PostgreSQL migration, by version."""
    return available(DIALECT)


async def migrate(
    conn: asyncpg.Connection[asyncpg.Record], migrations: list[Migration] | None = None
) -> list[int]:
    """Apply pending migrations in one transaction; return their versions.

    ``conn`` must not be in a transaction. The advisory lock is held by its session until the
    transaction has ended, and released even if this fails.
    """
    todo = postgres_migrations() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        async with conn.transaction():
            return await _apply(conn, todo)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def _apply(conn: asyncpg.Connection[asyncpg.Record], todo: list[Migration]) -> list[int]:
    await conn.execute(_CREATE_TABLE)
    applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
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
        # Without arguments, asyncpg sends the script as one simple query: several statements.
        await conn.execute(migration.sql)
        await conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            migration.version,
            _now(),
        )
        done.append(migration.version)
    return done


def _now() -> str:
    return iso_ms(datetime.now(UTC))
