"""Moving a deployment from SQLite to PostgreSQL: every table copied row for row.

:func:`migrate_store` brings both schemas to the current version, copies the SQLite store into an
empty PostgreSQL database, then verifies the audit chain on PostgreSQL. The copy is exact: the
audit records keep their seq, their hashes and their signed checkpoints (a record's hash covers
its values as stored, and the two stores store them alike), keys keep their ids, the usage
ledger keeps its running totals, so budgets go on counting what was spent before.

How:

- The source is read in one read transaction: a consistent snapshot even if a server still
  writes (what it writes after the snapshot is not copied, hence: stop it first).
- The target is written in one transaction holding the write lock every PostgreSQL writer takes:
  a server started on the target early waits for the copy instead of writing into it, and a
  failed copy leaves the target as empty as it was.
- Rows go over in batches with ``COPY`` (binary): a million audit records take seconds.
- Columns the database numbers (identity columns) are copied as they are, then their sequences
  are moved past the largest value copied.
- Expired nonces are left behind: they protect nothing (an expired nonce may be used again).
"""

# ruff: noqa: S608 -- table and column names come from TABLES and the two catalogs, checked
# against each other; values are always parameters

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from openleash.domain.errors import InvalidInputError
from openleash.service.audit_chain import ChainReport, verify_chain
from openleash.store.sql import postgres_queries as pq
from openleash.store.sql.postgres import (
    CONNECT_TIMEOUT_SECONDS,
    PostgresStore,
    check_server,
    pool_options,
    unavailable,
)
from openleash.store.sql.postgres_migrate import migrate as migrate_postgres
from openleash.store.sql.postgres_tx import UNAVAILABLE
from openleash.store.sql.sqlite import SqliteStore

__all__ = ["BATCH_ROWS", "TABLES", "CopiedTable", "StoreMigration", "copy_store", "migrate_store"]

#: Every table of the schema, parents before the tables whose foreign keys name them.
#: INVARIANT: a migration that adds a table adds it here (a contract test compares this with
#: both schemas, and the copy refuses a schema it does not know).
TABLES = (
    "meta",
    "owners",
    "owner_credentials",
    "owner_backup_codes",
    "owner_sessions",
    "agents",
    "policies",
    "bindings",
    "server_keys",
    "nonces",
    "challenges",
    "invites",
    "audit_events",
    "audit_checkpoints",
    "usage_streams",
    "allowed_actions",
    "approval_requests",
    "held_decisions",
    "policy_drafts",
    "webhook_outbox",
)
#: Rows per ``COPY``: about 20 MB of audit records.
BATCH_ROWS = 10_000

#: Which rows of a table are copied, when not all (parameter: the time, in epoch ms).
_WHERE = {"nonces": "expires_ms > ?"}
#: SQLite stores booleans as 0 and 1; PostgreSQL's binary COPY wants them as booleans.
_CONVERT: dict[str, Callable[[Any], Any]] = {"boolean": bool}

_SOURCE_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' "
    "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'schema_migrations'"
)
_TARGET_COLUMNS = (
    "SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name <> 'schema_migrations' "
    "ORDER BY table_name, ordinal_position"
)
_CHAIN_END = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"


@dataclass(frozen=True, slots=True)
class CopiedTable:
    name: str
    rows: int


@dataclass(frozen=True, slots=True)
class StoreMigration:
    """What :func:`migrate_store` did and found."""

    tables: list[CopiedTable]
    #: Time taken by the copy, and by the verification of the chain on PostgreSQL.
    seconds: float
    verify_seconds: float
    #: The audit chain as verified on PostgreSQL after the copy.
    chain: ChainReport
    #: The chain verified on the SQLite source: only when the copy's does not verify, to tell a
    #: chain that was already broken from a bad copy.
    source_chain: ChainReport | None = None

    @property
    def ok(self) -> bool:
        return self.chain.ok

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    data_type: str
    identity: bool


async def migrate_store(
    source: Path,
    target_url: str,
    *,
    batch_rows: int = BATCH_ROWS,
    now_ms: int | None = None,
    on_table: Callable[[CopiedTable], None] | None = None,
) -> StoreMigration:
    """Copy the SQLite store at ``source`` into the empty PostgreSQL database ``target_url``
    (see :func:`copy_store`), then verify the audit chain there."""
    started = time.perf_counter()
    tables = await copy_store(
        source, target_url, batch_rows=batch_rows, now_ms=now_ms, on_table=on_table
    )
    seconds = time.perf_counter() - started
    target = await PostgresStore.open(target_url)
    try:
        chain = await verify_chain(target)
    finally:
        await target.close()
    verify_seconds = time.perf_counter() - started - seconds
    if chain.ok:
        return StoreMigration(tables, seconds, verify_seconds, chain)
    origin = SqliteStore.open(source, checkpoint_interval=None)
    try:
        source_chain = await verify_chain(origin)
    finally:
        await origin.close()
    return StoreMigration(tables, seconds, verify_seconds, chain, source_chain)


async def copy_store(
    source: Path,
    target_url: str,
    *,
    batch_rows: int = BATCH_ROWS,
    now_ms: int | None = None,
    on_table: Callable[[CopiedTable], None] | None = None,
) -> list[CopiedTable]:
    """Copy every table of the SQLite store at ``source`` into the PostgreSQL database
    ``target_url``, which must hold no data (its tables are created if needed). Raises
    ``VALIDATION_ERROR`` for a target that holds data or a schema either side does not match,
    and ``STORE_UNAVAILABLE`` when the target cannot be reached; nothing is written then.

    ``now_ms`` (default: now) decides which nonces have expired. ``on_table`` is told of each
    table once it is copied.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be positive")
    source = Path(source).expanduser()
    if not source.is_file():
        raise InvalidInputError("VALIDATION_ERROR", f"no SQLite store at {source}")
    # Brings the source to the current schema version, as starting its server would.
    await SqliteStore.open(source, checkpoint_interval=None).close()
    moment = int(time.time() * 1000) if now_ms is None else now_ms
    with _snapshot(source) as reader:
        conn = await _connect(target_url)
        try:
            return await _copy(reader, conn, batch_rows, moment, on_table)
        finally:
            await conn.close()


class _SourceSnapshot:
    """The SQLite source inside one read transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def columns(self) -> dict[str, list[str]]:
        tables = [name for (name,) in self.conn.execute(_SOURCE_TABLES)]
        return {
            name: [row[1] for row in self.conn.execute(f'PRAGMA table_info("{name}")')]
            for name in tables
        }

    def rows(
        self, table: str, columns: Sequence[str], moment: int, batch_rows: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        where = _WHERE.get(table)
        sql = f"SELECT {', '.join(columns)} FROM {table}"
        cursor = (
            self.conn.execute(f"{sql} WHERE {where}", (moment,))
            if where
            else self.conn.execute(sql)
        )
        while batch := cursor.fetchmany(batch_rows):
            yield batch

    def chain_end(self) -> tuple[int, str] | None:
        row = self.conn.execute(_CHAIN_END).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))


@contextlib.contextmanager
def _snapshot(path: Path) -> Iterator[_SourceSnapshot]:
    """The SQLite file opened read-only, in one read transaction."""
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro",
        uri=True,
        isolation_level=None,
        check_same_thread=False,  # batches are read in a worker thread, one at a time
    )
    try:
        conn.execute("BEGIN")  # the snapshot starts with the first read and lasts until closed
        yield _SourceSnapshot(conn)
    finally:
        conn.close()


async def _connect(url: str) -> asyncpg.Connection[asyncpg.Record]:
    plain, _, _ = pool_options(url)
    try:
        conn = await asyncpg.connect(plain, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise unavailable(exc) from exc
    try:
        await check_server(conn)
        await migrate_postgres(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


async def _copy(
    source: _SourceSnapshot,
    conn: asyncpg.Connection[asyncpg.Record],
    batch_rows: int,
    moment: int,
    on_table: Callable[[CopiedTable], None] | None,
) -> list[CopiedTable]:
    copied: list[CopiedTable] = []
    async with conn.transaction():
        # Taken first, as every writer of the store does (see the postgres module).
        await conn.execute(pq.LOCK_WRITERS)
        target = await _target_columns(conn)
        source_columns = source.columns()
        _check_schemas(source_columns, target)
        await _check_empty(conn)
        await conn.execute("DELETE FROM meta")  # the migrations' initial revision
        for table in TABLES:
            columns = target[table]
            rows = await _copy_table(source, conn, table, columns, moment, batch_rows)
            stored = await conn.fetchval(f"SELECT count(*) FROM {table}")
            if stored != rows:  # pragma: no cover - COPY either stores every row or fails
                raise RuntimeError(f"{table}: {rows} rows copied but {stored} stored")
            await _advance_sequences(conn, table, columns)
            copied.append(CopiedTable(table, rows))
            if on_table is not None:
                on_table(copied[-1])
        await _check_chain_end(conn, source.chain_end())
    return copied


async def _copy_table(
    source: _SourceSnapshot,
    conn: asyncpg.Connection[asyncpg.Record],
    table: str,
    columns: list[_Column],
    moment: int,
    batch_rows: int,
) -> int:
    """Copy one table, batch by batch; the number of rows. The next batch is read from SQLite
    (in a thread) while the last one is being stored."""
    names = [c.name for c in columns]
    batches = source.rows(table, names, moment, batch_rows)
    ahead = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
    rows = 0
    try:
        while (batch := await ahead) is not None:
            ahead = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            try:
                await conn.copy_records_to_table(
                    table, records=_converted(batch, columns), columns=names
                )
            except UNAVAILABLE as exc:
                raise unavailable(exc) from exc
            except (TypeError, ValueError, OverflowError, asyncpg.PostgresError) as exc:
                raise InvalidInputError(
                    "VALIDATION_ERROR",
                    f"table {table}: a row among rows {rows + 1} to {rows + len(batch)} "
                    f"cannot be stored in PostgreSQL ({exc}); nothing was copied",
                ) from exc
            rows += len(batch)
    finally:
        # INVARIANT: no read is still running when the source connection closes.
        await asyncio.wait([ahead])
    return rows


async def _target_columns(conn: asyncpg.Connection[asyncpg.Record]) -> dict[str, list[_Column]]:
    found: dict[str, list[_Column]] = {}
    for table, column, data_type, identity in await conn.fetch(_TARGET_COLUMNS):
        found.setdefault(table, []).append(_Column(column, data_type, identity == "YES"))
    return found


def _check_schemas(source: dict[str, list[str]], target: dict[str, list[_Column]]) -> None:
    """The copy knows every table, and both stores have the same columns in each."""
    known = set(TABLES)
    for side, tables in (("SQLite", set(source)), ("PostgreSQL", set(target))):
        if tables != known:
            raise InvalidInputError(
                "VALIDATION_ERROR",
                f"the {side} schema does not match this OpenLeash: tables "
                f"{sorted(tables ^ known)} are in one but not the other",
            )
    for table in TABLES:
        theirs, ours = set(source[table]), {c.name for c in target[table]}
        if theirs != ours:
            raise InvalidInputError(
                "VALIDATION_ERROR",
                f"table {table} differs between SQLite and PostgreSQL: columns "
                f"{sorted(theirs ^ ours)}",
            )


async def _check_empty(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    holding = [
        table
        for table in TABLES
        if table != "meta" and await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})")
    ]
    revision = await conn.fetchval("SELECT value FROM meta WHERE key = 'revision'")
    if holding or revision:
        what = ", ".join(holding) if holding else "the revision counter"
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"the target database is not empty ({what}): the store is copied into an empty "
            "database only, so that nothing there is mixed with or lost under the copy. "
            "Create a new database (createdb --encoding UTF8 NAME) and copy into that.",
        )


def _converted(batch: list[tuple[Any, ...]], columns: list[_Column]) -> list[tuple[Any, ...]]:
    converters = [_CONVERT.get(c.data_type) for c in columns]
    if not any(converters):
        return batch  # most tables, the audit log among them: the values go as SQLite gives them
    return [
        tuple(v if f is None or v is None else f(v) for f, v in zip(converters, row, strict=True))
        for row in batch
    ]


async def _advance_sequences(
    conn: asyncpg.Connection[asyncpg.Record], table: str, columns: list[_Column]
) -> None:
    """Numbers the database gives new rows continue after the largest one copied."""
    for column in columns:
        if column.identity:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max({column.name}), 0)"
                f" + 1, false) FROM {table}",
                table,
                column.name,
            )


async def _check_chain_end(
    conn: asyncpg.Connection[asyncpg.Record], source_end: tuple[int, str] | None
) -> None:
    row = await conn.fetchrow(pq.pg(_CHAIN_END))
    target_end = None if row is None else (int(row[0]), str(row[1]))
    if target_end != source_end:  # pragma: no cover - the counts already matched
        raise RuntimeError(f"the audit log ends at {target_end}, the source at {source_end}")
