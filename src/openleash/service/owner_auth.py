"""Owners' credentials: passphrase set-up, login, sessions, TOTP and backup codes.

Passphrases are hashed with argon2id, off the event loop and never inside a store transaction
(hashing takes tens of milliseconds; transactions hold the write lock). TOTP codes are accepted
once (the store keeps the last accepted time step); backup codes once each. No function here
returns a secret the owner already has.

Guessing is bounded three ways, none of which a stranger can turn against a signed-in owner:

- per client address (in the worker's memory, :class:`~openleash.service.lockout.FailureLocks`):
  after ``login_free_attempts`` failed logins the address waits, doubling with each failure;
- per account (in the store, seen by every worker): after ``login_account_free_attempts``
  failures from anywhere the account locks the same way. While it is locked only a login that
  gives the passphrase *and* a fresh TOTP or backup code is still tried (and is let in), so a
  guesser with many addresses cannot keep an owner with TOTP out; without TOTP the lock holds;
- per account for second factors given inside a session (approve, deny, re-enrol, ...): counted
  apart (``factor_failures``), never blocked by the login lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from openleash.crypto import (
    OWNER_DEVICE,
    USER_SESSION,
    KeyRing,
    issue_device_token,
    issue_session_token,
    totp,
    verify_token,
)
from openleash.crypto import passphrase as passphrases
from openleash.crypto.errors import NotVerifiedError
from openleash.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    OpenLeashError,
    TokenError,
)
from openleash.domain.ids import new_id
from openleash.domain.models import (
    AssuranceLevel,
    Owner,
    OwnerCredentials,
    OwnerSession,
    Status,
    assurance_rank,
)
from openleash.service.audit import record
from openleash.service.lockout import FailureLocks, locked_error
from openleash.service.options import Options
from openleash.service.owners import redeemable_invite
from openleash.service.ports import Store, Transaction
from openleash.service.timefmt import epoch_ms, iso

#: How long a device token (given at every login) marks a client the owner signed in with: its
#: logins still go through while strangers' guesses keep the account locked (see
#: :func:`_device_known`).
DEVICE_TOKEN_TTL_SECONDS = 180 * 24 * 3600

#: Assurance an owner's answer achieves: the session alone, a second factor, or a second factor
#: together with the passphrase entered again for this answer.

# Verifying against this keeps an unknown owner as slow as a known one.
_DUMMY_HASH = passphrases.hash_passphrase(secrets.token_urlsafe(16))


class SecondFactorError(AuthenticationError):
    """A wrong TOTP or backup code, or a wrong passphrase, given to confirm an owner's action.

    Counted against the owner like a failed login (see :func:`factor_attempts`)."""


@dataclass(frozen=True, slots=True)
class OwnerCall:
    """An authenticated owner request."""

    owner: Owner
    session: OwnerSession
    now: datetime

    @property
    def owner_id(self) -> str:
        return self.owner.user_principal_id


def _optional(body: Any, name: str) -> str | None:
    value = body.get(name) if isinstance(body, dict) else None
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInputError(
            "VALIDATION_ERROR", f"{name} must be a string", {"field_errors": {name: "Not a string"}}
        )
    return value


def _required(body: Any, name: str) -> str:
    value = _optional(body, name)
    if value is None:
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"{name} is required",
            {"field_errors": {name: "Required: a non-empty string"}},
        )
    return value


async def _hash(passphrase: str) -> str:
    return await asyncio.to_thread(passphrases.hash_passphrase, passphrase)


async def _verify(stored: str | None, passphrase: str) -> bool:
    """Whether ``passphrase`` is the owner's. A login needs the outcome as a value: what it
    answers depends on the account's lock too (see :func:`_check_login`). An owner without a
    passphrase is checked against a dummy hash, so both take the same time."""
    try:
        await asyncio.to_thread(passphrases.verify_passphrase, stored or _DUMMY_HASH, passphrase)
    except NotVerifiedError:
        return False
    return stored is not None


# -- set-up by invite ---------------------------------------------------------------------------


async def setup_owner(store: Store, body: Any, options: Options) -> dict[str, Any]:
    """Redeem a setup invite by setting (or resetting) the passphrase; open sessions end.

    The invite is checked before the passphrase is hashed: hashing costs tens of milliseconds
    and tens of MiB, which a caller without a valid invite must not be able to spend."""
    invite_id = _required(body, "invite_id")
    invite_token = _required(body, "invite_token")
    passphrase = _required(body, "passphrase")
    passphrases.check_passphrase_policy(passphrase)
    now = options.clock()
    async with store.read() as tx:
        redeemable_invite(await tx.get_invite(invite_id), "setup", invite_token, now)
    hashed = await _hash(passphrase)
    async with store.transaction() as tx:
        # Again, in the transaction: the invite may have been used meanwhile.
        invite = redeemable_invite(await tx.get_invite(invite_id), "setup", invite_token, now)
        if not await tx.use_invite(invite_id, iso(now)):
            raise InvalidInputError("INVITE_USED", "Invite has already been used")
        owner_id = invite.owner_id
        creds = await tx.get_credentials(owner_id) or OwnerCredentials(owner_id, iso(now))
        await tx.put_credentials(
            replace(
                creds,
                passphrase_hash=hashed,
                failed_logins=0,
                locked_until_ms=0,
                factor_failures=0,
                factor_locked_until_ms=0,
                updated_at=iso(now),
            )
        )
        await tx.revoke_sessions(owner_id, iso(now))
        await record(
            tx, now, "USER_SETUP_COMPLETED", owner_id, owner_id=owner_id, invite_id=invite_id
        )
    return {"status": "setup_complete", "user_principal_id": owner_id}


# -- login, sessions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    body: dict[str, Any]
    token: str
    expires_at: str
    csrf_token: str
    #: Renewed at every login: see :data:`DEVICE_TOKEN_TTL_SECONDS`.
    device_token: str


#: Failed logins that count against the client address (and lock it once past the free ones).
_ADDRESS_FAILURES = frozenset({"INVALID_CREDENTIALS", "INVALID_TOTP_CODE", "LOGIN_LOCKED"})


def login_locks(options: Options) -> FailureLocks:
    """The per-address failure table :func:`login` takes; one per worker process."""
    return FailureLocks(
        options.login_free_attempts, options.login_lock_base_seconds, options.login_lock_max_seconds
    )


async def login(
    store: Store,
    keyring: KeyRing,
    body: Any,
    options: Options,
    *,
    address: str,
    locks: FailureLocks,
    device: str | None = None,
) -> Login:
    """Passphrase, then the TOTP code (or a backup code) when TOTP is on, then a session.

    ``address`` is the client's address and ``locks`` the worker's failures per address: a
    stranger's failures slow down that stranger's address, not the owner's. ``device`` is the
    device token of a client the owner signed in with before, if it sent one."""
    now_ms = epoch_ms(options.clock())
    locks.check(address, now_ms, "Too many failed logins from this address")
    try:
        done = await _login(store, keyring, body, options, device)
    except OpenLeashError as exc:
        if exc.code in _ADDRESS_FAILURES:
            locks.fail(address, now_ms)
        raise
    locks.clear(address)
    return done


async def _login(
    store: Store, keyring: KeyRing, body: Any, options: Options, device: str | None
) -> Login:
    owner_id = _required(body, "user_principal_id")
    passphrase = _required(body, "passphrase")
    code = _optional(body, "totp_code")
    now = options.clock()
    device_claims = _device_claims(keyring, device, owner_id, now)
    async with store.read() as tx:
        owner = await tx.get_owner(owner_id)
        creds = await tx.get_credentials(owner_id)
    known = _device_known(device_claims, creds)
    if creds is not None and _login_locked(creds, now) and not _may_pass_lock(creds, code, known):
        _locked(creds, now)  # before hashing: a locked account costs a guesser's target nothing
    passphrase_ok = await _verify(creds.passphrase_hash if creds else None, passphrase)
    if owner is None or owner.status != Status.ACTIVE or creds is None:
        raise AuthenticationError("INVALID_CREDENTIALS", "Invalid user or passphrase")
    if creds.passphrase_hash is None:
        raise AuthenticationError("SETUP_REQUIRED", "Set a passphrase with your setup invite first")
    session = OwnerSession(
        session_id=new_id(),
        user_principal_id=owner_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=iso(now),
        expires_at=iso(now + timedelta(seconds=options.session_ttl_seconds)),
    )
    failure: OpenLeashError | None = None
    async with store.transaction() as tx:
        current = await tx.get_credentials(owner_id) or creds
        # Against the credentials as they are now: a reset meanwhile ends the device's standing.
        known = _device_known(device_claims, current)
        failure = await _check_login(tx, current, passphrase_ok, code, now, known)
        if failure is not None:
            await _count_failure(tx, current, now, options)
            await record(tx, now, "USER_LOGIN_FAILED", owner_id, owner_id=owner_id)
        else:
            # Read again: accepting a TOTP code above moved its counter on.
            current = await tx.get_credentials(owner_id) or current
            await tx.put_credentials(
                replace(current, failed_logins=0, locked_until_ms=0, updated_at=iso(now))
            )
            await tx.add_session(session)
            await record(
                tx, now, "USER_LOGIN", owner_id, owner_id=owner_id, session_id=session.session_id
            )
    if failure is not None:
        raise failure
    return _logged_in(keyring, session, now, options, _credential_mark(current))


async def _check_login(
    tx: Transaction,
    creds: OwnerCredentials,
    passphrase_ok: bool,
    code: str | None,
    now: datetime,
    known_device: bool,
) -> OpenLeashError | None:
    """The failure of a login attempt, or None when it may go in.

    While the account is locked, only passphrase and second factor together are tried, and every
    failure reads the same (LOGIN_LOCKED): a guesser learns nothing about which part was wrong."""
    locked = _login_locked(creds, now)
    if locked and not _may_pass_lock(creds, code, known_device):
        _locked(creds, now)
    failure: OpenLeashError | None
    if not passphrase_ok:
        failure = AuthenticationError("INVALID_CREDENTIALS", "Invalid user or passphrase")
    elif not creds.totp_enabled:
        failure = None
    elif code is None:
        # Not a failed guess: the passphrase was right; the client must ask for the code.
        raise ForbiddenError("TOTP_REQUIRED", "Two-factor authentication code is required")
    elif await _second_factor_matches(tx, creds, code, now) is None:
        failure = InvalidInputError("INVALID_TOTP_CODE", "Invalid TOTP or backup code")
    else:
        failure = None
    if failure is not None and locked:
        return _lock_error(creds, now)
    return failure


def _login_locked(creds: OwnerCredentials, now: datetime) -> bool:
    return creds.locked_until_ms > epoch_ms(now)


def _may_pass_lock(creds: OwnerCredentials, code: str | None, known_device: bool) -> bool:
    # INVARIANT: a locked account is only tried with both factors, or from a client the owner
    # signed in with before, so a guesser spread over many addresses needs the passphrase and a
    # current code (or the owner's device token) at once, while the owner still gets in.
    return known_device or (creds.totp_enabled and code is not None)


def _device_claims(
    keyring: KeyRing, token: str | None, owner_id: str, now: datetime
) -> dict[str, Any] | None:
    """The claims of ``token`` if it is a device token this server gave ``owner_id`` at a login;
    anything else (absent, forged, expired, another owner's, another kind of token) is None."""
    if not token:
        return None
    try:
        claims = verify_token(token, keyring, now=now, purpose=OWNER_DEVICE)
    except OpenLeashError:
        return None
    return claims if claims.get("sub") == owner_id else None


def _device_known(claims: dict[str, Any] | None, creds: OwnerCredentials | None) -> bool:
    """Whether a device token (its verified ``claims``) was earned with the owner's current
    passphrase: a reset, which an owner makes to shut out whoever learnt the old one, ends the
    standing of every browser signed in before it."""
    if claims is None or creds is None or creds.passphrase_hash is None:
        return False
    mark = claims.get("cred")
    return isinstance(mark, str) and hmac.compare_digest(mark, _credential_mark(creds))


def _credential_mark(creds: OwnerCredentials) -> str:
    """A mark of the passphrase hash that changes with every reset (the hash has a fresh salt).
    Read in a token it tells nothing: without the hash's salt no guess can be checked against it."""
    digest = hashlib.sha256(b"openleash owner device\0" + (creds.passphrase_hash or "").encode())
    return digest.hexdigest()[:32]


def _logged_in(
    keyring: KeyRing, session: OwnerSession, now: datetime, options: Options, credential: str
) -> Login:
    owner_id = session.user_principal_id
    issued = issue_session_token(
        keyring.active(),
        now=now,
        ttl_seconds=options.session_ttl_seconds,
        user_principal_id=owner_id,
        system_roles=[],
        session_id=session.session_id,
    )
    return Login(
        body={
            "token": issued.token,
            "expires_at": issued.expires_at,
            "user_principal_id": owner_id,
            "system_roles": [],
            "org_memberships": [],
        },
        token=issued.token,
        expires_at=issued.expires_at,
        csrf_token=session.csrf_token,
        device_token=issue_device_token(
            keyring.active(),
            now=now,
            ttl_seconds=DEVICE_TOKEN_TTL_SECONDS,
            user_principal_id=owner_id,
            credential=credential,
        ).token,
    )


@asynccontextmanager
async def factor_attempts(store: Store, call: OwnerCall, options: Options) -> AsyncIterator[None]:
    """Around a use case that checks a second factor or the passphrase: a wrong one counts
    against the owner's second-factor budget (and locks second-factor checks for a while after a
    few), written in a transaction of its own because the one that checked it rolls back.
    Without this, a stolen session could guess codes or passphrases at the server's speed. The
    budget is not the login one: strangers failing to log in never block a signed-in owner."""
    try:
        yield
    except SecondFactorError:
        async with store.transaction() as tx:
            creds = await tx.get_credentials(call.owner_id)
            if creds is not None:
                await _count_factor_failure(tx, creds, call.now, options)
            await record(
                tx, call.now, "USER_SECOND_FACTOR_FAILED", call.owner_id, owner_id=call.owner_id
            )
        raise


def _check_unlocked(creds: OwnerCredentials | None, now: datetime) -> None:
    """Second-factor checks inside a session: only the second-factor lock applies."""
    if creds is not None and creds.factor_locked_until_ms > epoch_ms(now):
        raise locked_error(
            creds.factor_locked_until_ms - epoch_ms(now),
            "Too many wrong second factors or passphrases in a row",
            "SECOND_FACTOR_LOCKED",
        )


def _locked(creds: OwnerCredentials, now: datetime) -> None:
    raise _lock_error(creds, now)


def _lock_error(creds: OwnerCredentials, now: datetime) -> OpenLeashError:
    return locked_error(
        creds.locked_until_ms - epoch_ms(now),
        "Too many failed logins for this account (the passphrase together with a two-factor "
        "code still logs in)",
    )


def _lock_until(failed: int, free: int, now: datetime, options: Options) -> int | None:
    """When ``failed`` failures in a row lock until (epoch ms), or None if they do not yet."""
    beyond = failed - free
    if beyond < 0:
        return None
    seconds: int = min(options.login_lock_base_seconds * 2**beyond, options.login_lock_max_seconds)
    return epoch_ms(now) + seconds * 1000


async def _count_failure(
    tx: Transaction, creds: OwnerCredentials, now: datetime, options: Options
) -> None:
    failed = creds.failed_logins + 1
    until = _lock_until(failed, options.login_account_free_attempts, now, options)
    await tx.put_credentials(
        replace(
            creds,
            failed_logins=failed,
            locked_until_ms=creds.locked_until_ms if until is None else until,
            updated_at=iso(now),
        )
    )


async def _reset_factor_failures(tx: Transaction, owner_id: str, now: datetime) -> None:
    # Read again: accepting a TOTP code moved its counter on, which must not be written back.
    creds = await tx.get_credentials(owner_id)
    if creds is not None and creds.factor_failures:
        await tx.put_credentials(
            replace(creds, factor_failures=0, factor_locked_until_ms=0, updated_at=iso(now))
        )


async def _count_factor_failure(
    tx: Transaction, creds: OwnerCredentials, now: datetime, options: Options
) -> None:
    failed = creds.factor_failures + 1
    until = _lock_until(failed, options.factor_free_attempts, now, options)
    await tx.put_credentials(
        replace(
            creds,
            factor_failures=failed,
            factor_locked_until_ms=creds.factor_locked_until_ms if until is None else until,
            updated_at=iso(now),
        )
    )


async def authenticate_owner(
    store: Store, keyring: KeyRing, token: str | None, now: datetime
) -> OwnerCall:
    """The owner behind a session token, or 401 saying why not."""
    if not token:
        raise AuthenticationError("MISSING_TOKEN", "Owner session token required")
    try:
        claims = verify_token(token, keyring, now=now, purpose=USER_SESSION)
    except TokenError as exc:
        raise AuthenticationError("INVALID_SESSION", exc.reason) from None
    session_id, owner_id = claims.get("sid"), claims.get("sub")
    if not isinstance(session_id, str) or not isinstance(owner_id, str):
        raise AuthenticationError("INVALID_SESSION", "Session token names no session")
    async with store.read() as tx:
        session = await tx.get_session(session_id)
        owner = await tx.get_owner(owner_id)
    if (
        session is None
        or session.user_principal_id != owner_id
        or session.revoked_at is not None
        or session.expires_at <= iso(now)
    ):
        raise AuthenticationError("INVALID_SESSION", "Session ended; log in again")
    if owner is None:
        raise NotFoundError("USER_NOT_FOUND", "User not found")
    if owner.status != Status.ACTIVE:
        raise AuthenticationError("USER_INACTIVE", "User is not active")
    return OwnerCall(owner, session, now)


async def still_signed_in(store: Store, call: OwnerCall, now: datetime) -> bool:
    """Whether the session of ``call`` is still open (not logged out, not ended by a passphrase
    reset, not expired) and its owner still active: for long-lived requests (event streams)."""
    async with store.read() as tx:
        session = await tx.get_session(call.session.session_id)
        owner = await tx.get_owner(call.owner_id)
    return (
        session is not None
        and session.revoked_at is None
        and session.expires_at > iso(now)
        and owner is not None
        and owner.status == Status.ACTIVE
    )


async def logout(store: Store, call: OwnerCall) -> dict[str, Any]:
    async with store.transaction() as tx:
        await tx.revoke_session(call.session.session_id, iso(call.now))
        await record(tx, call.now, "USER_LOGOUT", call.owner_id, owner_id=call.owner_id)
    return {"status": "logged_out"}


async def profile(store: Store, call: OwnerCall) -> dict[str, Any]:
    async with store.read() as tx:
        creds = await tx.get_credentials(call.owner_id)
        backup_left = await tx.count_backup_codes(call.owner_id)
    owner = call.owner
    return {
        "user_principal_id": owner.user_principal_id,
        "display_name": owner.display_name,
        "status": owner.status,
        "created_at": owner.created_at,
        "identity_assurance_level": "NONE",
        "system_roles": [],
        "totp_enabled": bool(creds and creds.totp_enabled),
        "backup_codes_remaining": backup_left,
        "session_expires_at": call.session.expires_at,
    }


# -- TOTP -----------------------------------------------------------------------------------------


async def totp_setup(store: Store, call: OwnerCall, body: Any, options: Options) -> dict[str, Any]:
    """Start (re-)enrolment: a new secret, in force once a code of it is confirmed. While TOTP
    is on, starting again needs a current code (or a backup code)."""
    code = _optional(body, "code")
    secret = totp.new_secret()
    now = call.now
    async with factor_attempts(store, call, options), store.transaction() as tx:
        creds = await tx.get_credentials(call.owner_id) or OwnerCredentials(call.owner_id, iso(now))
        if creds.totp_enabled:
            if code is None:
                raise ForbiddenError(
                    "TOTP_REQUIRED", "TOTP is on: enter a current code to enrol a new device"
                )
            _check_unlocked(creds, now)
            if await _second_factor_matches(tx, creds, code, now) is None:
                raise SecondFactorError("INVALID_TOTP_CODE", "Invalid TOTP or backup code")
            creds = await tx.get_credentials(call.owner_id) or creds
        await tx.put_credentials(replace(creds, totp_pending=secret, updated_at=iso(now)))
        await record(tx, now, "USER_TOTP_SETUP_STARTED", call.owner_id, owner_id=call.owner_id)
    uri = totp.provisioning_uri(secret, call.owner.display_name)
    # The secret goes to its owner once, here, to be put into an authenticator app.
    return {"secret": secret, "uri": uri, "qr_svg": totp.qr_svg(uri)}


async def totp_confirm(store: Store, call: OwnerCall, body: Any) -> dict[str, Any]:
    """Turn TOTP on with a code of the pending secret; returns fresh backup codes, once."""
    code = _required(body, "code")
    now = call.now
    codes = totp.new_backup_codes()
    async with store.transaction() as tx:
        creds = await tx.get_credentials(call.owner_id)
        if creds is None or creds.totp_pending is None:
            raise InvalidInputError("TOTP_NOT_SETUP", "Start TOTP setup first")
        counter = totp.verify(creds.totp_pending, code, now.timestamp(), None)
        if counter is None:
            raise InvalidInputError("INVALID_TOTP_CODE", "Invalid TOTP code")
        await tx.put_credentials(
            replace(
                creds,
                totp_secret=creds.totp_pending,
                totp_pending=None,
                totp_enabled=True,
                totp_last_counter=counter,
                updated_at=iso(now),
            )
        )
        await tx.replace_backup_codes(call.owner_id, [totp.hash_backup_code(c) for c in codes])
        await record(tx, now, "USER_TOTP_ENABLED", call.owner_id, owner_id=call.owner_id)
    return {"status": "totp_enabled", "backup_codes": codes}


async def totp_disable(
    store: Store, call: OwnerCall, body: Any, options: Options
) -> dict[str, Any]:
    code = _required(body, "code")
    now = call.now
    if options.require_totp:
        raise ForbiddenError(
            "FORBIDDEN",
            "This server requires TOTP (security.require_totp); it cannot be turned off",
        )
    async with factor_attempts(store, call, options), store.transaction() as tx:
        creds = await tx.get_credentials(call.owner_id)
        if creds is None or not creds.totp_enabled:
            raise InvalidInputError("TOTP_NOT_ENABLED", "TOTP is not enabled")
        _check_unlocked(creds, now)
        if await _second_factor_matches(tx, creds, code, now) is None:
            raise SecondFactorError("INVALID_TOTP_CODE", "Invalid TOTP or backup code")
        await tx.put_credentials(
            replace(
                creds,
                totp_secret=None,
                totp_pending=None,
                totp_enabled=False,
                totp_last_counter=None,
                updated_at=iso(now),
            )
        )
        await tx.replace_backup_codes(call.owner_id, [])
        await record(tx, now, "USER_TOTP_DISABLED", call.owner_id, owner_id=call.owner_id)
    return {"status": "totp_disabled"}


async def _second_factor_matches(
    tx: Transaction, creds: OwnerCredentials, code: str, now: datetime
) -> str | None:
    """``"totp"`` or ``"backup_code"`` when ``code`` is a fresh TOTP code or an unused backup
    code (which is used up, and audited); None otherwise."""
    owner_id = creds.user_principal_id
    if creds.totp_secret is not None:
        counter = totp.verify(creds.totp_secret, code, now.timestamp(), creds.totp_last_counter)
        if counter is not None and await tx.advance_totp_counter(owner_id, counter):
            return "totp"
    if await tx.use_backup_code(owner_id, totp.hash_backup_code(code), iso(now)):
        await record(tx, now, "USER_TOTP_BACKUP_USED", owner_id, owner_id=owner_id)
        return "backup_code"
    return None


async def second_factor(
    tx: Transaction,
    owner_id: str,
    body: Any,
    now: datetime,
    options: Options,
    *,
    required_level: str | None = None,
    passphrase_ok: bool = False,
) -> AssuranceLevel:
    """The TOTP gate of approving, denying, deleting and revoking (inv §8.5, fixed).

    Returns the assurance achieved: LOW without a second factor, SUBSTANTIAL with one, HIGH with
    one and the passphrase entered again. ``required_level`` (a step-up) makes the second factor
    mandatory, and HIGH needs the passphrase too."""
    creds = await tx.get_credentials(owner_id)
    needs_factor = required_level is not None and assurance_rank(required_level) > 0
    if creds is None or not creds.totp_enabled:
        if options.require_totp or needs_factor:
            raise ForbiddenError(
                "TOTP_SETUP_REQUIRED",
                "Set up two-factor authentication (TOTP) first"
                + (": this request needs a second factor" if needs_factor else ""),
            )
        return AssuranceLevel.LOW
    code = _optional(body, "totp_code")
    if code is None:
        raise ForbiddenError("TOTP_REQUIRED", "Two-factor authentication code is required")
    _check_unlocked(creds, now)
    if await _second_factor_matches(tx, creds, code, now) is None:
        # Callers run inside factor_attempts, which counts this against the owner.
        raise SecondFactorError("TOTP_REQUIRED", "Invalid two-factor authentication code")
    if passphrase_ok:
        # Both factors right: the owner, not a thief of the session, so the count starts again.
        # (Not on a code alone: a thief holding codes could then guess passphrases for ever.)
        await _reset_factor_failures(tx, owner_id, now)
    achieved = AssuranceLevel.HIGH if passphrase_ok else AssuranceLevel.SUBSTANTIAL
    if required_level is not None and assurance_rank(achieved) < assurance_rank(required_level):
        raise ForbiddenError(
            "STEP_UP_REQUIRED",
            f"This request needs assurance {required_level}: enter your passphrase as well as "
            "your two-factor code",
            {"required_assurance_level": required_level, "achieved": achieved},
        )
    return achieved


async def passphrase_confirmed(store: Store, call: OwnerCall, body: Any) -> bool:
    """True when ``body.passphrase`` is given and is the owner's passphrase; raises when a
    wrong one is given (it never silently lowers the assurance asked for)."""
    passphrase = _optional(body, "passphrase")
    if passphrase is None:
        return False
    async with store.read() as tx:
        creds = await tx.get_credentials(call.owner_id)
    _check_unlocked(creds, call.now)
    if not await _verify(creds.passphrase_hash if creds else None, passphrase):
        # Callers run inside factor_attempts, which counts this against the owner.
        raise SecondFactorError("INVALID_CREDENTIALS", "Wrong passphrase")
    return True
