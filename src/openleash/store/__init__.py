"""Adapters for the ports of :mod:`openleash.service.ports`. :func:`open_store` picks one."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from openleash.service.ports import Store
from openleash.store.sql.availability import DEFAULT_TIMEOUT_SECONDS
from openleash.store.sql.sqlite import SqliteStore

__all__ = [
    "MEMORY_URL",
    "is_memory_url",
    "is_postgres_url",
    "open_store",
    "shown_url",
    "store_path",
]

_POSTGRES_SCHEMES = ("postgresql", "postgres")

#: Names a new, empty in-memory store (:mod:`openleash.store.memory`), for tests and demos:
#: nothing is kept once the process ends, and no other process sees it.
MEMORY_URL = "memory:"


async def open_store(url_or_path: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Store:
    """Open the store named by a filesystem path, a ``sqlite:///`` URL or a ``postgresql://``
    URL, creating (SQLite) and migrating it if needed; or ``memory:``, a new in-memory store
    that keeps nothing. ``timeout`` (seconds) bounds every wait for the store once open; then
    ``STORE_UNAVAILABLE``."""
    if is_postgres_url(url_or_path):
        # Imported here: a SQLite deployment never loads the PostgreSQL driver.
        from openleash.store.sql.postgres import PostgresStore

        return await PostgresStore.open(url_or_path.strip(), timeout=timeout)
    if is_memory_url(url_or_path):
        from openleash.store.memory import MemoryStore

        return MemoryStore(timeout=timeout)
    return SqliteStore.open(store_path(url_or_path), timeout=timeout)


def is_memory_url(url_or_path: str) -> bool:
    """Whether ``url_or_path`` names the in-memory store (``memory:``): one that is not
    persistent, and that no other process shares."""
    return url_or_path.strip().lower() == MEMORY_URL


def is_postgres_url(url_or_path: str) -> bool:
    """Whether ``url_or_path`` names a PostgreSQL database (``postgresql://`` or
    ``postgres://``, as libpq reads them)."""
    scheme, sep, _ = url_or_path.strip().partition("://")
    return bool(sep) and scheme.lower() in _POSTGRES_SCHEMES


def store_path(url_or_path: str) -> Path:
    """The SQLite file that ``url_or_path`` names.

    ``sqlite:///data/openleash.db`` is relative to the working folder and
    ``sqlite:////var/lib/openleash.db`` absolute (three slashes, then the path), as elsewhere.
    """
    text = url_or_path.strip()
    if is_memory_url(text):
        raise ValueError("memory: names an in-memory store, which keeps nothing: name a file")
    scheme, sep, rest = text.partition("://")
    if not sep:
        if not text or text == ":memory:":
            raise ValueError("the store needs a file path (an in-memory database is not shared)")
        return Path(text).expanduser()
    match scheme.lower():
        case "sqlite":
            if not rest.startswith("/") or rest == "/" or rest == "/:memory:":
                raise ValueError(
                    f"a SQLite URL names a file, as in sqlite:///openleash.db: {text!r}"
                )
            return Path(rest[1:]).expanduser()
        case "postgresql" | "postgres":
            raise ValueError(
                "a PostgreSQL URL names a database, not a file: open it with open_store"
            )
        case _:
            raise ValueError(
                f"unsupported store URL scheme {scheme!r}; use a path, sqlite:///, postgresql:// "
                "or memory:"
            )


def shown_url(url_or_path: str) -> str:
    """``url_or_path`` fit for messages and logs: a URL's password replaced by ``***``."""
    parts = urlsplit(url_or_path.strip())
    if not parts.password:
        return url_or_path.strip()
    credentials, _, hosts = parts.netloc.rpartition("@")
    user = credentials.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))
