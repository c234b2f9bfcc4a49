"""Units of work do not nest: a task that holds one and asks for another fails at once.

Each store serializes its units with locks (SQLite: one writer and one reader connection per
process; PostgreSQL: one writer per process and a bounded pool). A task that already holds a
unit and waits for another would wait on itself, or on a pool it is draining, and every other
request of the process would queue up behind it. Raising turns that silent hang into an error
with a stack trace that names the nested call.
"""

from __future__ import annotations

import asyncio
from typing import Any


class NestedUnitError(RuntimeError):
    """A task asked the store for a unit of work (or its revision) while holding one."""


class UnitHolders:
    """The tasks that hold a unit of work of one store, and which kind they hold."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[asyncio.Task[Any], str] = {}

    def check(self, wanted: str) -> None:
        """Raise when the current task holds a unit already."""
        task = asyncio.current_task()
        held = self._held.get(task) if task is not None else None
        if held is not None:
            raise NestedUnitError(
                f"store units do not nest: this task holds a {held} and asked for {wanted}; "
                "finish the open unit first, or pass it down and use it"
            )

    def enter(self, kind: str) -> asyncio.Task[Any] | None:
        """Note that the current task takes a unit of ``kind`` (after :meth:`check`)."""
        self.check(kind)
        task = asyncio.current_task()
        if task is not None:
            self._held[task] = kind
        return task

    def leave(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            self._held.pop(task, None)
