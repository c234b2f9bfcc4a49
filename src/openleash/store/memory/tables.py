"""The in-memory database: committed versions of every table, and a unit of work's view of them.

A :class:`Version` is one committed state, never changed once committed: a read unit keeps the
version it started with, so it sees one consistent snapshot however long it stays open and
whatever commits meanwhile. A write transaction works on :class:`Tables` over the version it
began with: a table is copied the first time the transaction writes to it (copy on write), the
commit installs a new version made of the copies and the untouched tables, and a rollback just
drops the copies. Inside a transaction an undo log takes back one group-commit unit's writes (as
a savepoint does in the SQL adapters).

The two tables that only ever grow at their end (the audit records, and the actions of each
usage stream) are not copied: each is one list shared by every version, of which a version sees
the first ``length`` items. A transaction appends after its own length, first dropping what a
rolled-back transaction or unit left there (no version sees that far).

INVARIANT: writers take turns (the database's writer lock), so while a transaction is open no
other version is committed, and the lengths it appends after are at least every committed one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, ItemsView, Iterator, ValuesView
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from openleash.domain.audit import AuditCheckpoint, AuditRow
from openleash.domain.models import (
    Agent,
    ApprovalRequest,
    Binding,
    Challenge,
    HeldDecision,
    Invite,
    Owner,
    OwnerCredentials,
    OwnerSession,
    PolicyDraft,
    PolicyRecord,
    ServerKey,
    WebhookDelivery,
)

K = TypeVar("K")
V = TypeVar("V")


class UniqueViolationError(Exception):
    """A record with the same key is stored already.

    The SQL adapters report this as their driver's integrity error (``sqlite3.IntegrityError``,
    ``asyncpg.UniqueViolationError``): a caller's bug, since every id is generated unique, and
    not one of the outcomes the ports promise. Conflicts that are such an outcome
    (``AGENT_ID_TAKEN``) are raised as in the SQL adapters."""


class ReadOnlyError(RuntimeError):
    """A write through a read unit (``Store.read()``), which is read-only."""

    def __init__(self) -> None:
        super().__init__("a read unit (store.read()) is read-only: write in store.transaction()")


class _Missing:
    """Marks a key that was absent before a write (the undo log puts it back absent)."""

    __slots__ = ()


_MISSING: Any = _Missing()

#: Insertion order of the tables listed in insertion order (bindings, keys), which an undone
#: delete must not change: values are never reused, so later inserts sort later.
insertion_seq = itertools.count(1)


class Stream(NamedTuple):
    """The allowed actions of one usage stream (owner, agent, action type, currency and
    counterparty) as one version sees them: running totals after each action, in time order, as
    ``(at_ms, total_count, total_amount)``; a version sees the first ``length`` of ``actions``."""

    actions: list[tuple[int, int, float]]
    length: int
    total_amount: float
    total_count: int
    last_at_ms: int


#: ``(owner_id, agent_principal_id, action_type, currency, counterparty)``; a missing currency
#: or counterparty is ``""``, as the SQL adapters store it.
StreamKey = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Version:
    """Every table as one commit left it. The dictionaries are never changed once committed."""

    owners: dict[str, Owner]
    credentials: dict[str, OwnerCredentials]
    backup_codes: dict[tuple[str, str], str | None]
    sessions: dict[str, OwnerSession]
    agents: dict[str, Agent]
    policies: dict[str, PolicyRecord]
    bindings: dict[str, tuple[int, Binding]]
    keys: dict[str, tuple[int, ServerKey]]
    nonces: dict[tuple[str, str], int]
    challenges: dict[str, Challenge]
    invites: dict[str, Invite]
    checkpoints: dict[int, AuditCheckpoint]
    streams: dict[StreamKey, Stream]
    approvals: dict[str, ApprovalRequest]
    held: dict[str, HeldDecision]
    drafts: dict[str, PolicyDraft]
    outbox: dict[str, WebhookDelivery]
    #: Shared by every version; this one sees ``audit[:audit_length]``, seq n at index n - 1.
    audit: list[AuditRow]
    audit_length: int
    revision: int

    @classmethod
    def empty(cls) -> Version:
        return cls({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, [], 0, 0)


_Undo = tuple["Table[Any, Any]", Any, Any]


class Table(Generic[K, V]):
    """One table as a unit of work sees it: the version's dictionary until the first write
    copies it. Every write notes what it replaced, for :meth:`Tables.undo_to`."""

    __slots__ = ("_owned", "_rows", "_undo", "_what")

    def __init__(self, rows: dict[K, V], undo: list[_Undo] | None, what: str) -> None:
        self._rows = rows
        self._owned = False
        #: None in a read unit: every write is refused.
        self._undo = undo
        self._what = what

    # -- reading ----------------------------------------------------------------------------------

    def get(self, key: K) -> V | None:
        return self._rows.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[K]:
        return iter(self._rows)

    def values(self) -> ValuesView[V]:
        return self._rows.values()

    def items(self) -> ItemsView[K, V]:
        return self._rows.items()

    @property
    def rows(self) -> dict[K, V]:
        """The dictionary as it stands (the version's own until a write copied it)."""
        return self._rows

    # -- writing ----------------------------------------------------------------------------------

    def insert(self, key: K, value: V) -> None:
        """Add a row; :class:`UniqueViolationError` when the key is taken."""
        if key in self._rows:
            raise UniqueViolationError(f"{self._what} {key!r} is stored already")
        self.put(key, value)

    def put(self, key: K, value: V) -> None:
        """Add or replace a row."""
        rows, undo = self._writable()
        undo.append((self, key, rows.get(key, _MISSING)))
        rows[key] = value

    def pop(self, key: K) -> V | None:
        """Remove and return a row; None when absent."""
        if key not in self._rows:
            return None
        rows, undo = self._writable()
        old = rows.pop(key)
        undo.append((self, key, old))
        return old

    def copy_without(self, gone: Callable[[K, V], bool]) -> None:
        """Copy the table now, if no write has yet, leaving out the rows ``gone`` names: a clean-
        up that costs nothing beyond the copy (the undo log does not restore them)."""
        if not self._owned:
            self._writable_undo()
            self._rows = {k: v for k, v in self._rows.items() if not gone(k, v)}
            self._owned = True

    def restore(self, key: K, old: V) -> None:
        """Undo one write (the table was copied by that write)."""
        if old is _MISSING:
            self._rows.pop(key, None)
        else:
            self._rows[key] = old

    def _writable_undo(self) -> list[_Undo]:
        if self._undo is None:
            raise ReadOnlyError
        return self._undo

    def _writable(self) -> tuple[dict[K, V], list[_Undo]]:
        undo = self._writable_undo()
        if not self._owned:
            self._rows = dict(self._rows)
            self._owned = True
        return self._rows, undo


class Mark(NamedTuple):
    """Where a group-commit unit began (see :meth:`Tables.undo_to`)."""

    undo: int
    audit_length: int
    revision: int


class Tables:
    """Every table as one unit of work sees it: over the version it began with, written (copy
    on write) when it is a write transaction."""

    def __init__(self, base: Version, *, writable: bool) -> None:
        undo: list[_Undo] | None = [] if writable else None
        self._undo = undo
        self._base = base
        self.owners = Table(base.owners, undo, "owner")
        self.credentials = Table(base.credentials, undo, "owner credential")
        self.backup_codes = Table(base.backup_codes, undo, "backup code")
        self.sessions = Table(base.sessions, undo, "session")
        self.agents = Table(base.agents, undo, "agent")
        self.policies = Table(base.policies, undo, "policy")
        self.bindings = Table(base.bindings, undo, "binding")
        self.keys = Table(base.keys, undo, "server key")
        self.nonces = Table(base.nonces, undo, "nonce")
        self.challenges = Table(base.challenges, undo, "challenge")
        self.invites = Table(base.invites, undo, "invite")
        self.checkpoints = Table(base.checkpoints, undo, "audit checkpoint")
        self.streams = Table(base.streams, undo, "usage stream")
        self.approvals = Table(base.approvals, undo, "approval request")
        self.held = Table(base.held, undo, "held decision")
        self.drafts = Table(base.drafts, undo, "policy draft")
        self.outbox = Table(base.outbox, undo, "webhook delivery")
        self._audit = base.audit
        self.audit_length = base.audit_length
        self.revision = base.revision

    @property
    def writable(self) -> bool:
        return self._undo is not None

    def check_writable(self) -> None:
        self._writable_undo()

    def _writable_undo(self) -> list[_Undo]:
        if self._undo is None:
            raise ReadOnlyError
        return self._undo

    # -- the audit records ------------------------------------------------------------------------

    def audit_row(self, seq: int) -> AuditRow:
        """The record at ``seq`` (1 to :attr:`audit_length`)."""
        if not 1 <= seq <= self.audit_length:
            raise IndexError(seq)
        return self._audit[seq - 1]

    def append_audit(self, rows: list[AuditRow]) -> None:
        self.check_writable()
        del self._audit[self.audit_length :]  # left by a unit or transaction rolled back
        self._audit.extend(rows)
        self.audit_length += len(rows)

    # -- the usage streams ------------------------------------------------------------------------

    def add_to_stream(self, key: StreamKey, amount: float, at_ms: int) -> None:
        """Count one allowed action in its stream. Its time is never before the last one of the
        stream (clocks of processes differ by a few ms), so the stream stays in time order."""
        found = self.streams.get(key)
        if found is None:
            stream = Stream([], 0, float(amount), 1, at_ms)
        else:
            stream = found._replace(
                total_amount=found.total_amount + amount,
                total_count=found.total_count + 1,
                last_at_ms=max(found.last_at_ms, at_ms),
            )
        self.streams.put(key, stream._replace(length=stream.length + 1))
        actions = stream.actions
        del actions[stream.length :]  # left by a unit or transaction rolled back
        actions.append((stream.last_at_ms, stream.total_count, stream.total_amount))

    # -- units and commits ------------------------------------------------------------------------

    def mark(self) -> Mark:
        return Mark(len(self._writable_undo()), self.audit_length, self.revision)

    def undo_to(self, mark: Mark) -> None:
        """Take back every write since ``mark``."""
        undo = self._writable_undo()
        while len(undo) > mark.undo:
            table, key, old = undo.pop()
            table.restore(key, old)
        self.audit_length = mark.audit_length
        self.revision = mark.revision

    @property
    def bumped(self) -> bool:
        return self.revision != self._base.revision

    def version(self) -> Version:
        """The state this transaction leaves, to commit."""
        return Version(
            self.owners.rows,
            self.credentials.rows,
            self.backup_codes.rows,
            self.sessions.rows,
            self.agents.rows,
            self.policies.rows,
            self.bindings.rows,
            self.keys.rows,
            self.nonces.rows,
            self.challenges.rows,
            self.invites.rows,
            self.checkpoints.rows,
            self.streams.rows,
            self.approvals.rows,
            self.held.rows,
            self.drafts.rows,
            self.outbox.rows,
            self._audit,
            self.audit_length,
            self.revision,
        )
