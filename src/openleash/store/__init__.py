"""Adapters for the ports of :mod:`openleash.service.ports`. :func:`open_store` picks one."""

from __future__ import annotations

from pathlib import Path

from openleash.service.ports import Store
from openleash.store.sql.sqlite import SqliteStore

__all__ = ["open_store", "store_path"]


async def open_store(url_or_path: str) -> Store:
    """Open the store named by a filesystem path or a ``sqlite:///`` URL, creating and
    migrating it if needed."""
    return SqliteStore.open(store_path(url_or_path))


def store_path(url_or_path: str) -> Path:
    """The SQLite file that ``url_or_path`` names.

    ``sqlite:///data/openleash.db`` is relative to the working folder and
    ``sqlite:////var/lib/openleash.db`` absolute (three slashes, then the path), as elsewhere.
    """
    text = url_or_path.strip()
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
        case "postgresql" | "postgres" | "postgresql+psycopg":
            raise ValueError("PostgreSQL support is not available yet; use a SQLite file path")
        case _:
            raise ValueError(f"unsupported store URL scheme {scheme!r}; use a path or sqlite:///")
