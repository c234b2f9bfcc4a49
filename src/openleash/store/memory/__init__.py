"""The in-memory adapter of the store ports, for tests and demos: nothing is persistent.

See :mod:`.store` for what it promises and how; ``open_store("memory:")`` opens one.
"""

from __future__ import annotations

from openleash.store.memory.store import MemoryDatabase, MemoryStore
from openleash.store.memory.tables import ReadOnlyError, UniqueViolationError
from openleash.store.memory.transaction import MemoryTransaction

__all__ = [
    "MemoryDatabase",
    "MemoryStore",
    "MemoryTransaction",
    "ReadOnlyError",
    "UniqueViolationError",
]
