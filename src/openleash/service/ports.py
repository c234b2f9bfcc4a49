"""The store, seen from the use cases: small protocols by role.

A use case opens one unit of work with ``Store.transaction()`` and uses the repositories it
exposes; everything done inside commits together or not at all. Adapters live in
:mod:`openleash.store`.

Time values: ``*_at`` fields are ISO-8601 strings with milliseconds and ``Z``; ``*_ms`` arguments
are Unix epoch milliseconds. Callers pass the time in; adapters never read a clock for decisions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, fields
from typing import Literal, Protocol, TypeVar

from openleash.domain.audit import AuditCheckpoint, AuditRow
from openleash.domain.errors import AuthenticationError, InvalidInputError, NotFoundError
from openleash.domain.models import (
    Agent,
    AllowedAction,
    ApprovalRequest,
    AuditEvent,
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
    UsageFilter,
    WebhookDelivery,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NonceUse:
    """A nonce to record: the arguments of :meth:`NonceRepo.use_nonce`."""

    agent_id: str
    nonce: str
    now_ms: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit records :meth:`AuditLog.page` and :meth:`AuditLog.audit_rows` select:
    equality on the stored field of each name, ``since`` at or after and ``until`` before
    (stored timestamps). A field left None, or empty, does not filter."""

    owner_id: str | None = None
    agent_principal_id: str | None = None
    event_type: str | None = None
    principal_id: str | None = None
    action_type: str | None = None
    result: str | None = None
    since: str | None = None
    until: str | None = None

    def given(self) -> dict[str, str]:
        """The fields that filter, by name, in the order of the fields."""
        found: dict[str, str] = {}
        for f in fields(self):
            value: str | None = getattr(self, f.name)
            if value:
                found[f.name] = value
        return found


def nonce_replay() -> AuthenticationError:
    """What recording a nonce used within its lifetime raises (PROTOCOL §3.2), whichever
    port records it."""
    return AuthenticationError("NONCE_REPLAY", "Nonce has already been used")


# What the single-use ports raise when the single use is lost (the caller's checks before them
# say why in more words; these are what is left when another writer came first).


def invite_not_found() -> NotFoundError:
    return NotFoundError("INVITE_NOT_FOUND", "Invite not found")


def invite_used() -> InvalidInputError:
    """:meth:`InviteRepo.use_invite` of an invite used already."""
    return InvalidInputError("INVITE_USED", "Invite has already been used")


def approval_consumed() -> InvalidInputError:
    """:meth:`ApprovalRepo.consume_approval` of an approval that is not there to use."""
    return InvalidInputError("APPROVAL_TOKEN_CONSUMED", "Approval token has already been used")


def approval_expired() -> InvalidInputError:
    """:meth:`ApprovalRepo.resolve_approval_request` of a pending request past its expiry."""
    return InvalidInputError("REQUEST_EXPIRED", "The request has expired")


def approval_resolved() -> InvalidInputError:
    """:meth:`ApprovalRepo.resolve_approval_request` of a request no longer pending."""
    return InvalidInputError("INVALID_STATUS", "The request was resolved meanwhile")


def draft_resolved() -> InvalidInputError:
    """:meth:`DraftRepo.resolve_draft` of a draft no longer pending."""
    return InvalidInputError("INVALID_STATUS", "The policy draft was resolved meanwhile")


def agent_not_pending() -> InvalidInputError:
    """:meth:`AgentRepo.activate_agent` of an agent that is not awaiting activation."""
    return InvalidInputError("INVALID_STATUS", "Only an agent awaiting activation can be activated")


class OwnerRepo(Protocol):
    async def add_owner(self, owner: Owner) -> None: ...
    async def get_owner(self, user_principal_id: str) -> Owner | None: ...
    async def list_owners(self) -> list[Owner]: ...


class CredentialRepo(Protocol):
    async def get_credentials(self, user_principal_id: str) -> OwnerCredentials | None: ...
    async def put_credentials(self, credentials: OwnerCredentials) -> None:
        """Insert or replace the owner's credentials row."""
        ...

    async def advance_totp_counter(self, user_principal_id: str, counter: int) -> bool:
        """Record ``counter`` as the last accepted TOTP step; False when a step at or after it
        was accepted already (the code was used). Exactly one concurrent caller wins.

        An answer rather than a check (as :meth:`use_backup_code`'s): a used code is one way a
        second factor can be wrong, and the caller goes on to try the code as a backup code,
        then counts the failure towards the lockout before it raises."""
        ...

    async def replace_backup_codes(self, user_principal_id: str, code_hashes: list[str]) -> None:
        """Drop every backup code of the owner and store these (unused)."""
        ...

    async def use_backup_code(self, user_principal_id: str, code_hash: str, used_at: str) -> bool:
        """Mark an unused backup code used; False when unknown or used (exactly once)."""
        ...

    async def count_backup_codes(self, user_principal_id: str) -> int:
        """How many unused backup codes the owner has left."""
        ...

    async def add_session(self, session: OwnerSession) -> None: ...
    async def get_session(self, session_id: str) -> OwnerSession | None: ...
    async def revoke_session(self, session_id: str, revoked_at: str) -> bool: ...
    async def revoke_sessions(self, user_principal_id: str, revoked_at: str) -> int:
        """End every open session of the owner (after a passphrase reset)."""
        ...


class AgentRepo(Protocol):
    async def add_agent(self, agent: Agent) -> None:
        """Insert an agent. Raise ``AGENT_ID_TAKEN`` when an agent with the same ``agent_id``
        is ACTIVE or PENDING, whoever owns it: nothing is ever replaced. (Whether a REVOKED id
        may be enrolled again is the caller's decision; see :meth:`find_agents_by_id`.)"""
        ...

    async def get_agent(self, agent_principal_id: str) -> Agent | None: ...
    async def find_active_agent(self, agent_id: str) -> Agent | None: ...
    async def find_agents_by_id(self, agent_id: str) -> list[Agent]:
        """Every enrolment of ``agent_id``, revoked ones included, oldest first."""
        ...

    async def list_agents(self, owner_id: str | None = None) -> list[Agent]: ...
    async def activate_agent(self, agent_principal_id: str) -> None:
        """PENDING -> ACTIVE; raise :func:`agent_not_pending` when there is no such PENDING
        agent."""
        ...

    async def revoke_agent(self, agent_principal_id: str, revoked_at: str) -> bool:
        """Set REVOKED; False when there is no such ACTIVE or PENDING agent."""
        ...

    async def webhook_url_taken(self, webhook_url: str, owner_id: str) -> bool:
        """Whether an ACTIVE agent of ``owner_id`` has this webhook URL."""
        ...


class PolicyRepo(Protocol):
    async def put_policy(self, policy: PolicyRecord) -> None:
        """Insert or replace by ``policy_id``."""
        ...

    async def get_policy(self, policy_id: str) -> PolicyRecord | None: ...
    async def list_policies(self, owner_id: str | None = None) -> list[PolicyRecord]: ...
    async def delete_policy(self, policy_id: str) -> bool:
        """Delete the policy and every binding of it; False when absent."""
        ...

    async def add_binding(self, binding: Binding) -> None: ...
    async def set_binding_rank(self, binding_id: str, rank: int) -> None: ...
    async def list_bindings(self, owner_type: str, owner_id: str) -> list[Binding]: ...
    async def delete_bindings(self, policy_id: str, owner_id: str | None = None) -> int: ...


class KeyRepo(Protocol):
    async def add_key(self, key: ServerKey, *, make_active: bool) -> None: ...
    async def list_keys(self) -> list[ServerKey]:
        """All keys, oldest first; exactly one has ``active=True`` once any exists."""
        ...

    async def revoke_key(self, kid: str, revoked_at: str) -> bool: ...


class NonceRepo(Protocol):
    async def use_nonce(self, agent_id: str, nonce: str, now_ms: int, expires_ms: int) -> None:
        """Record a nonce; raise :func:`nonce_replay` when the same (agent_id, nonce) is
        recorded and unexpired.

        INVARIANT: atomic across processes and replicas: of any number of concurrent calls with
        the same pair, exactly one returns; the others raise."""
        ...

    async def purge_nonces(self, now_ms: int) -> int: ...


class ChallengeRepo(Protocol):
    async def add_challenge(self, challenge: Challenge) -> None: ...
    async def take_challenge(self, challenge_id: str) -> Challenge | None:
        """Remove and return the challenge (single use); None when absent."""
        ...

    async def purge_challenges(self, now: str) -> int:
        """Delete a few challenges that expired at ``now`` (bounded work); how many."""
        ...


class InviteRepo(Protocol):
    async def add_invite(self, invite: Invite) -> None: ...
    async def get_invite(self, invite_id: str) -> Invite | None: ...
    async def use_invite(self, invite_id: str, used_at: str) -> None:
        """Mark used; raise :func:`invite_used` when it was already used (exactly one caller
        wins), :func:`invite_not_found` when there is no such invite."""
        ...


class AuditLog(Protocol):
    async def append(self, events: Sequence[AuditEvent]) -> None:
        """Append in order, each record chained to the one before it (docs/audit.md).

        INVARIANT: the records of all transactions form one chain in seq order, whatever process
        writes; a record rolled back (with its unit or transaction) leaves no trace in it."""
        ...

    async def page(
        self, *, limit: int, before_seq: int | None = None, filters: AuditFilter | None = None
    ) -> tuple[list[tuple[int, AuditEvent]], int]:
        """Newest first: ``([(seq, event), ...], total)``; ``before_seq`` is the cursor;
        ``filters`` selects (:class:`AuditFilter`)."""
        ...

    async def audit_rows(
        self, *, after_seq: int, limit: int, filters: AuditFilter | None = None
    ) -> list[AuditRow]:
        """Stored records with their hashes, oldest first, seq > ``after_seq`` (the filters of
        :meth:`page`)."""
        ...

    async def last_seq(self) -> int:
        """The seq of the newest record; 0 when there is none."""
        ...

    async def list_checkpoints(self) -> list[AuditCheckpoint]:
        """Every signed checkpoint of the chain, oldest first."""
        ...


class ApprovalRepo(Protocol):
    async def add_approval_request(self, request: ApprovalRequest) -> None: ...
    async def get_approval_request(self, approval_request_id: str) -> ApprovalRequest | None: ...
    async def list_approval_requests(
        self,
        *,
        owner_id: str | None = None,
        agent_principal_id: str | None = None,
        status: str | None = None,
        decision_id: str | None = None,
        limit: int = 100,
    ) -> list[ApprovalRequest]:
        """Newest first."""
        ...

    async def resolve_approval_request(
        self,
        approval_request_id: str,
        *,
        status: str,
        resolved_at: str,
        resolved_by: str | None,
        denial_reason: str | None = None,
        assurance_level: str | None = None,
        approval_token_expires_at: str | None = None,
    ) -> None:
        """PENDING and not expired at ``resolved_at`` -> ``status``. Raise
        :func:`approval_expired` when it is PENDING but expired, :func:`approval_resolved` when
        it is not PENDING (or not there): exactly one of any number of concurrent resolutions
        wins."""
        ...

    async def consume_approval(self, approval_request_id: str, consumed_at: str) -> None:
        """Mark an APPROVED request used; raise :func:`approval_consumed` when it is not
        APPROVED or already used.

        INVARIANT: exactly one of any number of concurrent calls returns; the others raise."""
        ...


class HeldDecisionRepo(Protocol):
    async def hold_decision(self, decision: HeldDecision) -> None: ...
    async def get_held_decision(self, decision_id: str) -> HeldDecision | None: ...


class DraftRepo(Protocol):
    async def add_draft(self, draft: PolicyDraft) -> None: ...
    async def get_draft(self, policy_draft_id: str) -> PolicyDraft | None: ...
    async def list_drafts(
        self,
        *,
        owner_id: str | None = None,
        agent_principal_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[PolicyDraft]:
        """Newest first."""
        ...

    async def resolve_draft(
        self,
        policy_draft_id: str,
        *,
        status: str,
        resolved_at: str,
        resolved_by: str | None,
        denial_reason: str | None = None,
        resulting_policy_id: str | None = None,
    ) -> None:
        """PENDING -> ``status``; raise :func:`draft_resolved` otherwise (exactly one concurrent
        resolution wins)."""
        ...


class WebhookOutbox(Protocol):
    async def enqueue_webhook(self, delivery: WebhookDelivery) -> None: ...
    async def due_webhooks(self, now_ms: int, limit: int) -> list[WebhookDelivery]:
        """PENDING deliveries whose next attempt is due, oldest first."""
        ...

    async def claim_webhook(self, delivery_id: str, now_ms: int, lease_until_ms: int) -> bool:
        """Take a due PENDING delivery for an attempt until ``lease_until_ms`` (after which
        another process may retry it); False when it is not due or another process took it."""
        ...

    async def finish_webhook_attempt(
        self,
        delivery_id: str,
        *,
        status: str,
        attempts: int,
        next_attempt_ms: int,
        last_error: str | None,
        last_status_code: int | None,
        lease_until_ms: int,
    ) -> bool:
        """Record an attempt's outcome, if this attempt still holds the delivery (its lease is
        the one :meth:`claim_webhook` set); False when the lease ran out and another process
        may have taken it over."""
        ...

    async def get_webhook(self, delivery_id: str) -> WebhookDelivery | None: ...


class LedgerView(Protocol):
    """What deciding reads of the actions allowed earlier: the store's :class:`Ledger` in the
    deciding transaction, or the in-memory ledger of the offline deciders
    (:mod:`openleash.service.memory_ledger`)."""

    async def usage(self, where: UsageFilter) -> tuple[float, int]:
        """``(sum of amount_minor, number of actions)`` matching ``where``."""
        ...

    async def allowed_before(self, owner_id: str, counterparty: str) -> int:
        """How many actions of this owner with this counterparty were allowed."""
        ...


class Ledger(LedgerView, Protocol):
    """Allowed actions, counted by limits. Written in the transaction that allowed them."""

    async def record_allowed(self, action: AllowedAction) -> None: ...
    async def usage_groups(
        self, where: UsageFilter, group_by: tuple[str, ...]
    ) -> list[tuple[tuple[str | None, ...], float, int]]:
        """Usage per distinct value of the ``group_by`` fields: ``[(values, amount, count)]``
        (None for a missing value); groups with nothing in the window are left out."""
        ...


class DecisionLog(Protocol):
    """Where a decided action is recorded: its nonce, its allowed action or held decision and its
    audit records, as one write."""

    async def record_decision(
        self,
        *,
        nonce: NonceUse | None,
        allowed: AllowedAction | None,
        held: HeldDecision | None,
        events: Sequence[AuditEvent],
    ) -> None:
        """Record a decided action at once: its nonce if any (as :meth:`use_nonce`), the allowed
        action, the held decision, the audit records.

        Raise ``AuthenticationError("NONCE_REPLAY")`` when the nonce is recorded and unexpired,
        having written nothing: the exception abandons the unit of work, which undoes whatever
        else it wrote. Adapters may write it all in one statement (one round trip to a database
        server)."""
        ...


class Transaction(
    OwnerRepo,
    CredentialRepo,
    AgentRepo,
    PolicyRepo,
    KeyRepo,
    NonceRepo,
    ChallengeRepo,
    InviteRepo,
    AuditLog,
    Ledger,
    ApprovalRepo,
    HeldDecisionRepo,
    DraftRepo,
    WebhookOutbox,
    DecisionLog,
    Protocol,
):
    """One unit of work over every repository."""

    async def bump_revision(self) -> None:
        """Mark that owners, agents, policies, bindings or keys changed (caches reload)."""
        ...


TxT = TypeVar("TxT", covariant=True)


class Units(Protocol[TxT]):
    """What a use case needs of the store: units of work whose transaction offers the roles
    ``TxT`` names (a Protocol combining the few role ports above that the use case uses). Any
    :class:`Store` is one, for any such ``TxT``; a use case typed ``Units[ApprovalsTx]`` shows
    in its signature which parts of the store it touches, and a test can hand it a fake that
    has only those."""

    def transaction(self) -> AbstractAsyncContextManager[TxT]: ...

    def read(self) -> AbstractAsyncContextManager[TxT]: ...


class GroupCommit(Protocol[TxT]):
    """What the decision path needs of the store: :meth:`Store.submit`, whose units see the
    roles ``TxT`` names. Any :class:`Store` is one."""

    async def submit(self, work: Callable[[TxT], Awaitable[T]]) -> T: ...


class Revisions(Protocol):
    """The store's revision counters (:meth:`Store.revision`, :meth:`Store.local_revision`),
    which tell caches when to reload. Any :class:`Store` is one."""

    async def revision(self) -> int: ...
    def local_revision(self) -> int: ...


StoreState = Literal["ok", "failing", "unavailable"]


class Readiness(Protocol):
    """Whether the store records writes now (:meth:`Store.readiness`). Any :class:`Store` is
    one."""

    async def readiness(self) -> StoreState: ...


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A unit of work: commits on normal exit, rolls back on an exception."""
        ...

    async def submit(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run ``work`` in a write transaction that units submitted at about the same time may
        share (group commit). Its writes commit, or roll back if it raises, as one unit, before
        this returns; an exception of ``work`` is raised here."""
        ...

    def read(self) -> AbstractAsyncContextManager[Transaction]:
        """A read-only unit of work: one consistent snapshot, holding up no writer. Writing
        through it fails.

        INVARIANT: units do not nest. A task that holds a unit (read or transaction) and asks for
        another, for :meth:`submit` or for :meth:`revision` gets a ``RuntimeError`` at once
        (waiting would deadlock); do the reads first, or pass the open unit down."""
        ...

    async def revision(self) -> int:
        """A number that grows whenever ``bump_revision`` committed, in any process."""
        ...

    def local_revision(self) -> int:
        """How many transactions of this process that called ``bump_revision`` committed: a
        cache of this process compares it to see its own changes at once, without reading."""
        ...

    async def readiness(self) -> Literal["ok", "failing", "unavailable"]:
        """Whether decisions can be recorded now, found out within about a second at most:
        ``ok``; ``failing`` (the store answers, but writes fail for want of storage: disk full,
        I/O errors, a read-only file); ``unavailable`` (it did not answer in time)."""
        ...

    async def close(self) -> None: ...
