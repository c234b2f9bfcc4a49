"""``ProofVerifier``: what a counterparty runs before it acts on an agent's request.

Verification is offline: the issuer's ``/v1/public-keys`` are fetched once and cached. The
checks, in order: the token is a proof (signature by a known, unrevoked key; ``purpose``;
not expired), it is for the expected action type, its action named this service as the
counterparty (the ``counterparty`` claim against the verifier's ``audience``), it is for the
expected action and agent, the action names the HTTP request it came with (when a request is
given), and finally its decision has not been used before. Only a proof that passes every
check is marked used.

Nothing here defaults to "any": the action type is a required argument of every check and the
audience a required argument of the verifier, so a proof issued for one purpose, or for one
service, is worthless elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from openleash.client import OpenLeashClientError, PublicKeyCache, request_sha256
from openleash.client.actions import REQUEST_SHA256, compute_action_hash
from openleash.client.keys import KeyList, unverified_kid
from openleash.crypto import PROOF, parse_iso, verify_token_with_public_keys
from openleash.domain.errors import OpenLeashError, TokenError
from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.verify.errors import (
    INVALID_PROOF,
    ISSUER_UNAVAILABLE,
    PROOF_ACTION_MISMATCH,
    PROOF_AGENT_MISMATCH,
    PROOF_COUNTERPARTY_MISMATCH,
    PROOF_REPLAYED,
    PROOF_REQUEST_MISMATCH,
    ProofRejected,
)
from openleash.verify.replay import InMemoryReplayCache, ReplayCache

__all__ = [
    "COUNTERPARTY_CLAIM",
    "HttpRequest",
    "ProofVerifier",
    "VerifiedProof",
    "compute_action_hash",
    "expected_action_type",
]

#: The proof claim naming the counterparty of the authorized action (lower-cased domain).
COUNTERPARTY_CLAIM = "counterparty"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The request a proof must be bound to: method, target (percent-encoded path with its
    query, as it was sent) and the exact body bytes."""

    method: str
    target: str
    body: bytes = b""

    def digest(self) -> str:
        return request_sha256(self.method, self.target, self.body)


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """A proof that passed every check: its ``claims`` and, when it was presented, the
    ``action`` it was issued for (its hash checked against the proof). Beyond the checked
    ones (``decision_id``, ``action_type``, ``counterparty``, ``action_hash`` and ``agent_id``
    when expected), claims and action are as the issuer and the agent wrote them."""

    token: str
    claims: JsonObject
    action: JsonObject | None = None

    @property
    def decision_id(self) -> str:
        return str(self.claims["decision_id"])

    @property
    def agent_id(self) -> str | None:
        return self._text("agent_id")

    @property
    def owner_id(self) -> str | None:
        return self._text("owner_id")

    @property
    def action_type(self) -> str | None:
        return self._text("action_type")

    @property
    def action_hash(self) -> str | None:
        return self._text("action_hash")

    @property
    def counterparty(self) -> str | None:
        """The counterparty the authorized action named (this service, once verified)."""
        return self._text(COUNTERPARTY_CLAIM)

    @property
    def payload(self) -> JsonObject:
        """The action's payload (empty when no action was presented)."""
        payload = (self.action or {}).get("payload")
        return payload if isinstance(payload, dict) else {}

    def _text(self, claim: str) -> str | None:
        value = self.claims.get(claim)
        return value if isinstance(value, str) else None


def expected_action_type(action_type: object) -> str:
    """``action_type`` when it names one action type; ``ValueError`` otherwise. No value means
    "any type", so there is none: a service says what each request may be used for."""
    if not isinstance(action_type, str) or not action_type:
        raise ValueError(
            f"action_type must be the action type the proof is for, not {action_type!r}"
        )
    return action_type


def _audience(audience: object) -> frozenset[str]:
    names = [audience] if isinstance(audience, str) else audience
    if not isinstance(names, Iterable):
        raise TypeError("audience must be this service's domain, or a list of its domains")
    listed = list(names)
    if not listed or not all(isinstance(name, str) and name.strip() for name in listed):
        raise ValueError(
            f"audience must name this service (its domain, e.g. 'shop.example'), not {audience!r}"
        )
    return frozenset(name.strip().lower() for name in listed)


class ProofVerifier:
    """Verifies proofs issued by the OpenLeash server at ``issuer_url`` for ``audience``.

    * ``audience``: who this service is, the domain (or a list of the domains) an agent's
      action names as its counterparty (``payload.merchant_domain``, else ``payload.domain``,
      else ``relying_party.domain``), compared without regard to case. A proof is accepted
      only when its ``counterparty`` claim is one of them; a proof naming no counterparty is
      refused.
    * ``cache_ttl``: seconds the issuer's keys are kept before they are fetched again (a key
      revoked meanwhile is refused from then on). A token naming a key the cache does not
      know triggers one refresh, at most once per ``refresh_cooldown`` seconds.
    * ``replay_cache``: where used decisions are remembered (default: this process's memory;
      :class:`~openleash.verify.SQLiteReplayCache` to share it between processes).
    * ``clock``: the current time, timezone-aware (tests inject one).
    * ``http_client`` / ``async_http_client``: used to fetch the keys, when given.
    """

    def __init__(
        self,
        issuer_url: str,
        *,
        audience: str | Iterable[str],
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        cache_ttl: float = 300.0,
        refresh_cooldown: float = 1.0,
        replay_cache: ReplayCache | None = None,
        clock: Callable[[], datetime] = _utc_now,
        keys: PublicKeyCache | None = None,
    ) -> None:
        self.issuer_url = issuer_url.rstrip("/")
        self.audience = _audience(audience)
        self.keys = keys or PublicKeyCache(
            self.issuer_url,
            ttl=cache_ttl,
            refresh_cooldown=refresh_cooldown,
            http_client=http_client,
            async_http_client=async_http_client,
        )
        self.replay_cache: ReplayCache = replay_cache or InMemoryReplayCache()
        self.clock = clock

    def __repr__(self) -> str:
        return f"ProofVerifier({self.issuer_url!r}, audience={sorted(self.audience)!r})"

    def verify(
        self,
        token: str,
        *,
        action_type: str,
        action_hash: str | None = None,
        action: Mapping[str, JsonValue] | None = None,
        agent_id: str | None = None,
        request: HttpRequest | None = None,
        consume: bool = True,
    ) -> VerifiedProof:
        """The verified proof, or :class:`~openleash.verify.ProofRejected` saying why not.

        ``action_type`` is the action type the proof must be for (required: ``ValueError``
        when it names none). ``action`` is the action the agent presents with the proof: its
        hash must be the proof's. ``request`` binds the proof to an HTTP request: the action's
        ``payload.request_sha256`` must be that request's digest (``action`` is then
        required). With ``consume=False`` the proof is checked but not marked used.
        """
        action_type = expected_action_type(action_type)
        with _issuer_keys():
            keys = self.keys.keys(want_kid=unverified_kid(token))
        now = self.clock()
        proof = self._check(token, keys, now, action_type, action_hash, action, agent_id, request)
        if consume:
            self._consume(proof, now)
        return proof

    async def averify(
        self,
        token: str,
        *,
        action_type: str,
        action_hash: str | None = None,
        action: Mapping[str, JsonValue] | None = None,
        agent_id: str | None = None,
        request: HttpRequest | None = None,
        consume: bool = True,
    ) -> VerifiedProof:
        """As :meth:`verify`, without blocking the event loop on the key fetch or the
        replay cache."""
        action_type = expected_action_type(action_type)
        with _issuer_keys():
            keys = await self.keys.akeys(want_kid=unverified_kid(token))
        now = self.clock()
        proof = self._check(token, keys, now, action_type, action_hash, action, agent_id, request)
        if consume:
            await asyncio.to_thread(self._consume, proof, now)
        return proof

    def _check(
        self,
        token: str,
        keys: KeyList,
        now: datetime,
        action_type: str,
        action_hash: str | None,
        action: Mapping[str, JsonValue] | None,
        agent_id: str | None,
        request: HttpRequest | None,
    ) -> VerifiedProof:
        try:
            claims = verify_token_with_public_keys(token, keys, now=now, purpose=PROOF)
        except TokenError as exc:
            raise ProofRejected(INVALID_PROOF, exc.reason) from None
        if not isinstance(claims.get("decision_id"), str):
            raise ProofRejected(INVALID_PROOF, "the proof names no decision")
        self.check_scope(claims, action_type)
        if action_hash is not None and claims.get("action_hash") != action_hash:
            raise ProofRejected(PROOF_ACTION_MISMATCH, "the proof is for another action")
        if agent_id is not None and claims.get("agent_id") != agent_id:
            raise ProofRejected(PROOF_AGENT_MISMATCH, "the proof was issued to another agent")
        presented = _presented_action(action, claims) if action is not None else None
        if request is not None:
            _check_binding(presented, request)
        return VerifiedProof(token, claims, presented)

    def check_scope(self, claims: Mapping[str, object], action_type: str) -> None:
        """Refuse a proof for another action type, or for another counterparty than this
        service (its ``audience``)."""
        if claims.get("action_type") != action_type:
            raise ProofRejected(
                PROOF_ACTION_MISMATCH,
                f"the proof is for {claims.get('action_type')!r}, not {action_type!r}",
            )
        named = claims.get(COUNTERPARTY_CLAIM)
        if not isinstance(named, str) or not named:
            raise ProofRejected(
                PROOF_COUNTERPARTY_MISMATCH,
                "the proof names no counterparty: the agent's action must name this service "
                "(payload.merchant_domain, payload.domain or relying_party.domain)",
            )
        if named.lower() not in self.audience:
            raise ProofRejected(
                PROOF_COUNTERPARTY_MISMATCH,
                f"the proof is for counterparty {named!r}, not this service",
            )

    def _consume(self, proof: VerifiedProof, now: datetime) -> None:
        expires_at = parse_iso(str(proof.claims["exp"]))
        if not self.replay_cache.claim(proof.decision_id, expires_at, now):
            raise ProofRejected(PROOF_REPLAYED, "this proof has already been used")


@contextmanager
def _issuer_keys() -> Iterator[None]:
    """Around fetching the issuer's keys: a failure rejects the proof (``ISSUER_UNAVAILABLE``)."""
    try:
        yield
    except OpenLeashClientError as exc:
        raise ProofRejected(ISSUER_UNAVAILABLE, f"cannot fetch the issuer's keys: {exc}") from exc


def _presented_action(action: Mapping[str, JsonValue], claims: JsonObject) -> JsonObject:
    try:
        digest = compute_action_hash(action)
    except OpenLeashError as exc:
        raise ProofRejected(PROOF_ACTION_MISMATCH, f"unreadable action: {exc.message}") from None
    if digest != claims.get("action_hash"):
        raise ProofRejected(PROOF_ACTION_MISMATCH, "the action presented is not the one proven")
    return dict(action)


def _check_binding(action: JsonObject | None, request: HttpRequest) -> None:
    if action is None:
        raise ProofRejected(
            PROOF_REQUEST_MISMATCH, "the action the proof was issued for must accompany it"
        )
    payload = action.get("payload")
    bound = payload.get(REQUEST_SHA256) if isinstance(payload, Mapping) else None
    if not isinstance(bound, str):
        raise ProofRejected(
            PROOF_REQUEST_MISMATCH, f"the action names no request (payload.{REQUEST_SHA256})"
        )
    if bound != request.digest():
        raise ProofRejected(
            PROOF_REQUEST_MISMATCH, "the proof was issued for another request than this one"
        )
