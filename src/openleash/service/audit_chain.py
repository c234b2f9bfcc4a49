"""Verifying the audit log: the hash chain record by record, and the signed checkpoints.

The chain shows any edited, deleted, inserted or reordered record up to the last one; the
checkpoints, signed with the server key, show a log rewritten consistently from some record on
(which the chain alone cannot, as its hashes have no key). The format is in docs/audit.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

from openleash.crypto import GENESIS_HASH, KeyRing, record_hash, verify_checkpoint
from openleash.domain.audit import CHAINED_WIDTH, AuditCheckpoint, AuditRow
from openleash.domain.errors import OpenLeashError
from openleash.service.ports import AuditLog, KeyRepo, Units

#: Records read per read transaction: large enough that the per-query cost vanishes, small
#: enough that no snapshot is held for long.
CHUNK = 10_000


class ChainTx(AuditLog, KeyRepo, Protocol):
    """The store roles verifying the chain reads: the records, checkpoints and keys."""


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first bad record: its ``seq``, what is wrong (``kind``) and how that reads."""

    seq: int
    kind: str
    message: str


class ProblemWire(TypedDict):
    seq: int
    kind: str
    message: str


class ChainReportWire(TypedDict):
    """:meth:`ChainReport.to_wire` (``openleash audit verify --json``)."""

    ok: bool
    records: int
    first_seq: int | None
    last_seq: int
    head_hash: str
    checkpoints_verified: int
    checkpoints_unverifiable: int
    last_checkpoint_seq: int | None
    problem: ProblemWire | None
    notes: list[str]


@dataclass(slots=True)
class ChainReport:
    records: int = 0
    first_seq: int | None = None
    last_seq: int = 0
    head_hash: str = GENESIS_HASH
    #: Checkpoints whose signature and head hash both verified.
    checkpoints_verified: int = 0
    #: Checkpoints signed by a key revoked since: their head hash is still compared.
    checkpoints_unverifiable: int = 0
    #: The newest verified checkpoint: the records up to it cannot have been rewritten.
    last_checkpoint_seq: int | None = None
    problem: ChainProblem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_wire(self) -> ChainReportWire:
        problem = self.problem
        return {
            "ok": self.ok,
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head_hash": self.head_hash,
            "checkpoints_verified": self.checkpoints_verified,
            "checkpoints_unverifiable": self.checkpoints_unverifiable,
            "last_checkpoint_seq": self.last_checkpoint_seq,
            "problem": None
            if problem is None
            else {"seq": problem.seq, "kind": problem.kind, "message": problem.message},
            "notes": list(self.notes),
        }


async def verify_chain(store: Units[ChainTx], *, chunk: int = CHUNK) -> ChainReport:
    """Check every record and checkpoint; the report names the first bad record, if any."""
    async with store.read() as tx:
        end = await tx.last_seq()
        checkpoints = await tx.list_checkpoints()
        keyring = KeyRing(await tx.list_keys())
    walk = _Walk(end, {c.seq: c for c in checkpoints}, keyring)
    after = 0
    while walk.problem is None and after < end:
        async with store.read() as tx:
            rows = await tx.audit_rows(after_seq=after, limit=chunk)
        if not rows:
            break
        walk.feed(rows)
        after = rows[-1].seq
    walk.finish(checkpoints)
    return walk.report


class _Walk:
    """The chain recomputed in seq order, one chunk of rows at a time."""

    def __init__(self, end: int, checkpoints: dict[int, AuditCheckpoint], keyring: KeyRing):
        self.end = end
        self.checkpoints = checkpoints
        self.keyring = keyring
        self.expected = 1
        self.prev = GENESIS_HASH
        self.report = ChainReport()
        self.problem: ChainProblem | None = None

    def feed(self, rows: Sequence[AuditRow]) -> None:
        # The hot loop of a million-record check: locals only, one hash per record.
        expected, prev, end, checkpoints = self.expected, self.prev, self.end, self.checkpoints
        width = CHAINED_WIDTH
        for row in rows:
            seq = row[0]
            if seq > end:  # appended after verification began: not part of this check
                break
            stored_prev, stored = row[12], row[13]
            problem = None
            if seq != expected:
                problem = _missing(expected, seq)
            elif not stored:
                problem = ChainProblem(
                    seq, "not_chained", f"record {seq} has no hash (written before chaining)"
                )
            elif stored_prev != prev:
                problem = _broken_link(row, prev)
            else:
                digest = record_hash(prev, row[:width])
                if digest != stored:
                    problem = ChainProblem(
                        seq, "edited", f"record {seq} does not match its hash: it was edited"
                    )
                elif seq in checkpoints:
                    problem = self._checkpoint(checkpoints[seq], digest)
            if problem is not None:
                self._stop(problem, expected, prev)
                return
            prev = stored
            expected += 1
        self.expected, self.prev = expected, prev

    def finish(self, checkpoints: Sequence[AuditCheckpoint]) -> None:
        report = self.report
        last = self.expected - 1
        if self.problem is None and last < self.end:
            self._stop(_missing(self.expected, None), self.expected, self.prev)
        if self.problem is None:
            beyond = [c.seq for c in checkpoints if c.seq > last]
            if beyond:
                self._stop(
                    ChainProblem(
                        last + 1,
                        "deleted",
                        f"records from {last + 1} on were deleted: the log ends at record "
                        f"{last}, but a checkpoint was signed at record {beyond[-1]}",
                    ),
                    self.expected,
                    self.prev,
                )
        report.problem = self.problem
        report.last_seq = self.expected - 1
        report.records = report.last_seq
        report.first_seq = 1 if report.records else None
        report.head_hash = self.prev
        if self.problem is None and report.records:
            pinned = report.last_checkpoint_seq or 0
            if pinned < report.last_seq:
                which = (
                    f"record {report.last_seq} comes"
                    if pinned + 1 == report.last_seq
                    else f"records {pinned + 1} to {report.last_seq} come"
                )
                report.notes.append(
                    f"{which} after the last verified checkpoint: chained, but not yet pinned "
                    "by a signature"
                )

    def _stop(self, problem: ChainProblem, expected: int, prev: str) -> None:
        self.problem = problem
        self.expected, self.prev = expected, prev

    def _checkpoint(self, checkpoint: AuditCheckpoint, digest: str) -> ChainProblem | None:
        seq, kid = checkpoint.seq, checkpoint.kid
        report = self.report
        if self.keyring.get(kid) is None:
            return ChainProblem(
                seq, "checkpoint_unknown_key", f"checkpoint {seq} names an unknown key {kid}"
            )
        public_key = self.keyring.verification_key(kid)
        if public_key is not None:
            try:
                verify_checkpoint(
                    public_key,
                    seq=seq,
                    head_hash=checkpoint.head_hash,
                    kid=kid,
                    created_at=checkpoint.created_at,
                    signature_b64=checkpoint.signature,
                )
            except OpenLeashError:
                return ChainProblem(
                    seq,
                    "checkpoint_forged",
                    f"checkpoint {seq}: the signature of key {kid} does not verify",
                )
        if checkpoint.head_hash != digest:
            return ChainProblem(
                seq,
                "checkpoint_mismatch",
                f"records up to {seq} are not those checkpoint {seq} signed: the log was "
                "rewritten at or before this record",
            )
        if public_key is None:
            report.checkpoints_unverifiable += 1
        else:
            report.checkpoints_verified += 1
            report.last_checkpoint_seq = seq
        return None


def _missing(expected: int, found: int | None) -> ChainProblem:
    # Rows come in seq order and seq is unique, so a row out of place is always a gap.
    if found is None:
        what = f"records from {expected} on were deleted"
    elif found == expected + 1:
        what = f"record {expected} was deleted (the log goes from {expected - 1} to {found})"
    else:
        what = f"records {expected} to {found - 1} were deleted"
    return ChainProblem(expected, "deleted", what)


def _broken_link(row: AuditRow, prev: str) -> ChainProblem:
    seq = row.seq
    before = f"record {seq - 1}" if seq > 1 else "the start of the log"
    return ChainProblem(
        seq,
        "inserted_or_reordered",
        f"record {seq} is not chained to {before} (it names {row.prev_hash[:12]}… as its "
        f"previous hash, not {prev[:12]}…): a record was inserted before it, or records were "
        "reordered or renumbered",
    )
