"""Fresh PostgreSQL databases for the contract tests, on the server the environment names.

``OPENLEASH_TEST_POSTGRES_URL`` (default below) names a database on that server to connect to
for creating and dropping the per-test ones; its role needs ``CREATEDB``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
ENV = "OPENLEASH_TEST_POSTGRES_URL"
CONNECT_TIMEOUT = 3.0

_unreachable: dict[str, str] = {}


def admin_url() -> str:
    return os.environ.get(ENV) or DEFAULT_URL


def shown(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def unreachable_reason() -> str | None:
    """Why the server cannot be used (checked once per run), or None when it can."""
    url = admin_url()
    if url not in _unreachable:
        try:
            asyncio.run(_probe(url))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            _unreachable[url] = (
                f"PostgreSQL not reachable at {shown(url)} ({type(exc).__name__}: {exc}); "
                f"start it or set {ENV}"
            )
        else:
            _unreachable[url] = ""
    return _unreachable[url] or None


async def _probe(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    await conn.close()


def create_database() -> str:
    """Create a uniquely named database; its URL."""
    name = f"openleash_test_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return with_database(admin_url(), name)


def drop_database(url: str) -> None:
    """Drop the database, ending any session still connected to it (a worker left behind)."""
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(admin_url(), timeout=CONNECT_TIMEOUT)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
