"""Proof, approval and session tokens: PASETO v4.public with OpenLeash's claims (inv §5.3).

Issuing takes ``now`` as a parameter and writes claims in the exact order the TypeScript server
uses, because SDKs and the official vectors compare token bytes. Verification also takes
``now``, and raises :class:`~openleash.domain.errors.TokenError` with one of the reasons below.

Decisions (PROTOCOL §3.8, §3.10):

* **Key choice.** The ``kid`` claim picks the key (read from the payload before it is trusted,
  then verified with that key only). A ``kid`` naming no key gives :data:`NO_MATCHING_KEY`; one
  naming a revoked key gives :data:`KEY_REVOKED`. Only a token without any ``kid`` claim is
  tried against every unrevoked key (no OpenLeash server issues one, but it costs nothing).
* **Purpose.** Tokens issued here always carry ``purpose``. Proofs from the TypeScript server
  carry none; such a token is accepted when ``purpose="proof"`` is expected, and only then.
  Safe, because its session and approval tokens always carry their purpose.
* **Time.** Expired means ``exp <= now``, with no leeway (the TypeScript rule). ``iat`` may lie
  up to :data:`IAT_LEEWAY` ahead of ``now``, so a verifier whose clock is slightly behind the
  issuer's still accepts a fresh token; the TypeScript library tolerates none.
* **Order of checks.** Signature, claim shape, purpose, ``iat``, ``exp``: a token of the wrong
  kind is reported as such even when it has also expired.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple, NotRequired, TypedDict

import orjson

from openleash.crypto.hazmat import paseto
from openleash.crypto.hazmat.canonical import stringify
from openleash.crypto.keyformat import Ed25519PublicKey, load_private_key
from openleash.crypto.keys import KeyRing, SigningKey
from openleash.domain.errors import InternalError, TokenError
from openleash.domain.jsonvalue import JsonObject, JsonOut
from openleash.domain.models import ServerKey
from openleash.domain.timefmt import iso_ms, parse_iso, to_ms

__all__ = [
    "APPROVAL",
    "IAT_LEEWAY",
    "ISSUER",
    "OWNER_DEVICE",
    "PROOF",
    "USER_SESSION",
    "ApprovalClaims",
    "DeviceClaims",
    "IssuedToken",
    "ProofClaims",
    "SessionClaims",
    "Signer",
    "encode_claims",
    "iso_ms",
    "issue_approval_token",
    "issue_device_token",
    "issue_proof",
    "issue_session_token",
    "issue_token",
    "verify_token",
    "verify_token_with_public_keys",
]

ISSUER = "openleash"
PROOF = "proof"
APPROVAL = "approval"
USER_SESSION = "user_session"
#: A browser or client the owner has signed in with before (it names the owner, grants nothing).
OWNER_DEVICE = "owner_device"

#: How far ahead of the verifier's clock a token's ``iat`` may be (clock drift between hosts).
IAT_LEEWAY = timedelta(seconds=5)

NO_MATCHING_KEY = "No matching key found or invalid signature"
KEY_REVOKED = "Key revoked"
INVALID_PURPOSE = "Invalid token purpose"
EXPIRED = "Token expired"
ISSUED_IN_FUTURE = "Token issued in the future"
INVALID_CLAIMS = "Invalid token claims"

#: Claims :func:`issue_token` writes itself; callers may not set them.
_RESERVED = frozenset({"iss", "kid", "iat", "exp"})


#: A loaded :class:`SigningKey`, or a stored :class:`ServerKey` (loaded through the key cache).
Signer = SigningKey | ServerKey


class IssuedToken(NamedTuple):
    token: str
    expires_at: str


# The claims of each kind of token this server issues, after the registered ones that
# :func:`issue_token` writes (``iss``, ``kid``, ``iat``, ``exp``; a session's ``sub`` before
# ``iat``). Verification returns what the signer wrote, whoever it was (a TypeScript server's
# proof has no ``purpose``): read those claims with ``isinstance``, never with these types.


class ProofClaims(TypedDict):
    """A proof: the TypeScript server's claims, then ``purpose``, then the extensions."""

    decision_id: str
    owner_type: str
    owner_id: str
    agent_id: str
    action_type: str
    action_hash: str
    matched_rule_id: str | None
    #: The relying party's trust profile as the action named it, when it named one.
    trust_profile: NotRequired[str]
    #: Always :data:`PROOF` here; written last (after ``trust_profile``), so not required.
    purpose: NotRequired[str]


class ApprovalClaims(TypedDict):
    """The token an agent redeems once after its owner approved an action."""

    approval_request_id: str
    owner_type: str
    owner_id: str
    agent_id: str
    action_type: str
    action_hash: str
    purpose: str
    #: An extension: binds the token to one registration of the agent.
    agent_principal_id: NotRequired[str]


class SessionClaims(TypedDict):
    """An owner session (its ``sub``, the owner, comes before ``iat``)."""

    purpose: str
    system_roles: Sequence[str]
    org_memberships: NotRequired[Sequence[Mapping[str, JsonOut]]]
    #: An extension: the stored session, so that logging out ends it.
    sid: NotRequired[str]


class DeviceClaims(TypedDict):
    """A device the owner signed in from (its ``sub``, the owner, comes before ``iat``)."""

    purpose: str
    #: A mark of the passphrase the token was earned with.
    cred: str


class _Subject(TypedDict):
    sub: str


def encode_claims(key: Signer, claims: Mapping[str, object]) -> str:
    """Sign ``claims`` exactly as given: their order and values become the payload bytes."""
    return paseto.sign(_signing_key(key).private_key, stringify(claims))


def _signing_key(key: Signer) -> SigningKey:
    if isinstance(key, SigningKey):
        return key
    if key.revoked_at is not None:
        # INVARIANT: a revoked key verifies nothing, so a token it signed could never be used.
        raise InternalError("INTERNAL_ERROR", "Refusing to sign with a revoked key")
    return SigningKey(key.kid, load_private_key(key.private_key_b64))


def issue_token(
    key: Signer,
    body: Mapping[str, object],
    *,
    now: datetime,
    ttl_seconds: int,
    head: Mapping[str, object] | None = None,
) -> IssuedToken:
    """Issue ``iss, kid, *head, iat, exp, *body``; ``head`` exists for claims that precede
    ``iat`` (the session token's ``sub``)."""
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued = to_ms(now)
    expires_at = iso_ms(issued + timedelta(seconds=ttl_seconds))
    claims: dict[str, object] = {"iss": ISSUER, "kid": key.kid}
    _add_claims(claims, head or {})
    claims["iat"] = iso_ms(issued)
    claims["exp"] = expires_at
    _add_claims(claims, body)
    return IssuedToken(encode_claims(key, claims), expires_at)


def _add_claims(claims: dict[str, object], extra: Mapping[str, object]) -> None:
    for name, value in extra.items():
        if name in _RESERVED or name in claims:
            raise ValueError(f"claim {name!r} would be set twice")
        claims[name] = value


def issue_proof(
    key: Signer,
    *,
    now: datetime,
    ttl_seconds: int,
    decision_id: str,
    owner_type: str,
    owner_id: str,
    agent_id: str,
    action_type: str,
    action_hash: str,
    matched_rule_id: str | None,
    trust_profile: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> IssuedToken:
    """A proof of an authorized action: the TypeScript claims, then ``purpose``, then ``extra``."""
    body: ProofClaims = {
        "decision_id": decision_id,
        "owner_type": owner_type,
        "owner_id": owner_id,
        "agent_id": agent_id,
        "action_type": action_type,
        "action_hash": action_hash,
        "matched_rule_id": matched_rule_id,
    }
    if trust_profile:
        body["trust_profile"] = trust_profile
    body["purpose"] = PROOF
    claims: dict[str, object] = dict(body)
    _add_claims(claims, extra or {})
    return issue_token(key, claims, now=now, ttl_seconds=ttl_seconds)


def issue_approval_token(
    key: Signer,
    *,
    now: datetime,
    ttl_seconds: int,
    approval_request_id: str,
    owner_type: str,
    owner_id: str,
    agent_id: str,
    action_type: str,
    action_hash: str,
    agent_principal_id: str | None = None,
) -> IssuedToken:
    """The token an agent redeems once after its owner approved an action. The
    ``agent_principal_id`` extension binds it to one registration of the agent."""
    body: ApprovalClaims = {
        "approval_request_id": approval_request_id,
        "owner_type": owner_type,
        "owner_id": owner_id,
        "agent_id": agent_id,
        "action_type": action_type,
        "action_hash": action_hash,
        "purpose": APPROVAL,
    }
    if agent_principal_id is not None:
        body["agent_principal_id"] = agent_principal_id
    return issue_token(key, body, now=now, ttl_seconds=ttl_seconds)


def issue_session_token(
    key: Signer,
    *,
    now: datetime,
    ttl_seconds: int,
    user_principal_id: str,
    system_roles: Sequence[str],
    org_memberships: Sequence[Mapping[str, JsonOut]] | None = None,
    session_id: str | None = None,
) -> IssuedToken:
    """An owner session; ``org_memberships`` is left out when empty, as the TypeScript does.
    ``sid`` (an extension) names the stored session, so that logging out ends it."""
    body: SessionClaims = {"purpose": USER_SESSION, "system_roles": system_roles}
    if org_memberships:
        body["org_memberships"] = org_memberships
    if session_id is not None:
        body["sid"] = session_id
    head: _Subject = {"sub": user_principal_id}
    return issue_token(key, body, now=now, ttl_seconds=ttl_seconds, head=head)


def issue_device_token(
    key: Signer, *, now: datetime, ttl_seconds: int, user_principal_id: str, credential: str
) -> IssuedToken:
    """A token saying "the owner signed in from here before": no session, no authority; it only
    lets its holder's logins through while the owner's account is locked by strangers' guesses.
    ``credential`` (claim ``cred``) marks the passphrase it was earned with: a token from before
    a passphrase reset is no longer one."""
    head: _Subject = {"sub": user_principal_id}
    body: DeviceClaims = {"purpose": OWNER_DEVICE, "cred": credential}
    return issue_token(key, body, now=now, ttl_seconds=ttl_seconds, head=head)


def verify_token(
    token: str,
    keyring: KeyRing,
    *,
    now: datetime,
    purpose: str | None,
    iat_leeway: timedelta = IAT_LEEWAY,
) -> JsonObject:
    """The verified claims of ``token``, or :class:`TokenError` saying why not.

    Verified are the signature, ``iss``, ``kid``, ``iat``, ``exp`` and ``purpose``; the other
    claims are as the signer wrote them (see :class:`ProofClaims`): narrow what you read.
    ``purpose=None`` skips the purpose check; only callers that accept any kind should pass it.
    """
    message, signature = _split(token)
    claims = _untrusted_claims(message)
    _check_signature(keyring, claims, message, signature)
    issued, expires = _claim_times(claims)
    _check_purpose(claims, purpose)
    moment = to_ms(now)
    if issued > moment + iat_leeway:
        raise TokenError(ISSUED_IN_FUTURE)
    if expires <= moment:
        raise TokenError(EXPIRED)
    return claims


def verify_token_with_public_keys(
    token: str,
    public_keys: Iterable[Mapping[str, object]],
    *,
    now: datetime,
    purpose: str | None,
    iat_leeway: timedelta = IAT_LEEWAY,
) -> JsonObject:
    """:func:`verify_token` against ``/v1/public-keys`` entries (for counterparties, offline)."""
    keyring = KeyRing.from_public_keys(public_keys)
    return verify_token(token, keyring, now=now, purpose=purpose, iat_leeway=iat_leeway)


def _split(token: str) -> tuple[bytes, bytes]:
    try:
        return paseto.split(token)
    except paseto.MalformedTokenError:
        raise TokenError(NO_MATCHING_KEY) from None


def _untrusted_claims(message: bytes) -> JsonObject:
    # Read only to find the kid; nothing in it is believed before the signature verifies.
    try:
        claims: object = orjson.loads(message)
    except orjson.JSONDecodeError:
        raise TokenError(NO_MATCHING_KEY) from None
    if not isinstance(claims, dict):
        raise TokenError(NO_MATCHING_KEY)
    return claims


def _check_signature(
    keyring: KeyRing, claims: JsonObject, message: bytes, signature: bytes
) -> None:
    for key in _candidate_keys(keyring, claims):
        try:
            paseto.verify(key, message, signature)
        except paseto.BadSignatureError:
            continue
        return
    raise TokenError(NO_MATCHING_KEY)


def _candidate_keys(keyring: KeyRing, claims: JsonObject) -> list[Ed25519PublicKey]:
    if "kid" not in claims:
        return keyring.verification_keys()
    kid = claims["kid"]
    if not isinstance(kid, str):
        return []
    if keyring.is_revoked(kid):
        raise TokenError(KEY_REVOKED)
    key = keyring.verification_key(kid)
    return [] if key is None else [key]


def _claim_times(claims: JsonObject) -> tuple[datetime, datetime]:
    issued, expires = claims.get("iat"), claims.get("exp")
    if claims.get("iss") != ISSUER or not isinstance(issued, str) or not isinstance(expires, str):
        raise TokenError(INVALID_CLAIMS)
    try:
        return parse_iso(issued), parse_iso(expires)
    except ValueError:
        raise TokenError(INVALID_CLAIMS) from None


def _check_purpose(claims: JsonObject, expected: str | None) -> None:
    if expected is None:
        return
    if expected == PROOF and "purpose" not in claims:
        return  # a proof from the TypeScript server, which writes no purpose claim
    if claims.get("purpose") != expected:
        raise TokenError(INVALID_PURPOSE)
