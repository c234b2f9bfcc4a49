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
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

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
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import (
    AssuranceLevel,
    Owner,
    OwnerCredentials,
    OwnerSession,
    Status,
    assurance_rank,
)
from openleash.domain.timefmt import epoch_ms, iso_ms
from openleash.service.audit import record
from openleash.service.lockout import FailureLocks, locked_error
from openleash.service.options import Options
from openleash.service.owners import (
    IssuedInvite,
    checked_display_name,
    checked_invite,
    issue_invite,
    usable_invite,
)
from openleash.service.ports import AuditLog, CredentialRepo, InviteRepo, OwnerRepo, Units
from openleash.service.runtime import Runtime

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


def _optional(body: object, name: str) -> str | None:
    value = body.get(name) if isinstance(body, dict) else None
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInputError(
            "VALIDATION_ERROR", f"{name} must be a string", {"field_errors": {name: "Not a string"}}
        )
    return value


def _required(body: object, name: str) -> str:
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


# -- commands and results -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewOwner:
    """An owner (user) to create: ``POST /v1/admin/users``."""

    display_name: str

    @classmethod
    def from_body(cls, body: object) -> NewOwner:
        name = body.get("display_name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(
                "VALIDATION_ERROR",
                "display_name is required",
                {"field_errors": {"display_name": "Required: a non-empty string"}},
            )
        return cls(checked_display_name(name))


@dataclass(frozen=True, slots=True)
class OwnerSetup:
    """A setup invite redeemed with the passphrase it sets (which meets the policy)."""

    invite_id: str
    invite_token: str = field(repr=False)
    passphrase: str = field(repr=False)

    @classmethod
    def from_body(cls, body: object) -> OwnerSetup:
        setup = cls(
            _required(body, "invite_id"),
            _required(body, "invite_token"),
            _required(body, "passphrase"),
        )
        passphrases.check_passphrase_policy(setup.passphrase)
        return setup


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """The owner's id and passphrase, and the TOTP (or backup) code when TOTP is on."""

    user_principal_id: str
    passphrase: str = field(repr=False)
    totp_code: str | None = field(default=None, repr=False)

    @classmethod
    def from_body(cls, body: object) -> LoginAttempt:
        return cls(
            _required(body, "user_principal_id"),
            _required(body, "passphrase"),
            _optional(body, "totp_code"),
        )


@dataclass(frozen=True, slots=True)
class TotpCode:
    """A TOTP code (or a backup code): ``code`` of the body. Required unless ``optional``."""

    code: str | None = field(repr=False)

    @classmethod
    def from_body(cls, body: object, *, optional: bool = False) -> TotpCode:
        return cls(_optional(body, "code") if optional else _required(body, "code"))


@dataclass(frozen=True, slots=True)
class FactorCode:
    """The second factor a change carries: ``totp_code`` of its body. Read (and refused when
    not a string) only when the owner has TOTP on; ignored otherwise."""

    given: object = field(default=None, repr=False)

    @classmethod
    def from_body(cls, body: object) -> FactorCode:
        return cls(body.get("totp_code") if isinstance(body, dict) else None)

    def code(self) -> str | None:
        return _optional({"totp_code": self.given}, "totp_code")


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A login: the session token and its CSRF token, and a device token for this client."""

    user_principal_id: str
    token: str = field(repr=False)
    expires_at: str
    csrf_token: str = field(repr=False)
    #: Renewed at every login: see :data:`DEVICE_TOKEN_TTL_SECONDS`.
    device_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class OwnerProfile:
    """The signed-in owner, whether TOTP is on, and when the session ends (no secrets)."""

    owner: Owner
    totp_enabled: bool
    backup_codes_remaining: int
    session_expires_at: str


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """A new TOTP secret, shown to its owner once, to put into an authenticator app."""

    secret: str = field(repr=False)
    uri: str = field(repr=False)
    qr_svg: str = field(repr=False)


class FactorTx(CredentialRepo, AuditLog, Protocol):
    """What checking a second factor (or the passphrase) in a session uses."""


class AccountsTx(OwnerRepo, CredentialRepo, InviteRepo, AuditLog, Protocol):
    """What the owners' accounts use of a unit of work."""

    async def bump_revision(self) -> None: ...


# -- the use case -------------------------------------------------------------------------------


class OwnerAccounts:
    """Owners' accounts: creation, set-up by invite, login, sessions, profile and TOTP."""

    def __init__(self, store: Units[AccountsTx], runtime: Runtime, options: Options) -> None:
        self._store = store
        self._runtime = runtime
        self._options = options

    async def create_owner(self, new: NewOwner) -> Owner:
        now = self._options.clock()
        owner = Owner(str(uuid.uuid4()), new.display_name, Status.ACTIVE, iso_ms(now))
        async with self._store.transaction() as tx:
            await tx.add_owner(owner)
            await tx.bump_revision()
            await record(
                tx,
                now,
                "USER_CREATED",
                owner.user_principal_id,
                user_principal_id=owner.user_principal_id,
                owner_id=owner.user_principal_id,
            )
        return owner

    async def list_owners(self) -> list[Owner]:
        async with self._store.read() as tx:
            return await tx.list_owners()

    async def setup_invite(self, owner_id: str) -> IssuedInvite:
        """A single-use invite for ``owner_id`` to set (or reset) a passphrase."""
        async with self._store.transaction() as tx:
            return await issue_invite(tx, owner_id, "setup", self._options)

    async def set_up(self, setup: OwnerSetup) -> str:
        """Redeem a setup invite by setting (or resetting) the passphrase; open sessions end.
        Returns the owner's id.

        The invite is checked before the passphrase is hashed: hashing costs tens of
        milliseconds and tens of MiB, which a caller without a valid invite must not spend."""
        now = self._options.clock()
        await checked_invite(self._store, setup.invite_id, "setup", setup.invite_token, now)
        hashed = await _hash(setup.passphrase)
        async with self._store.transaction() as tx:
            # Again, in the transaction: the invite may have been used meanwhile.
            invite = usable_invite(await tx.get_invite(setup.invite_id), "setup", now)
            await tx.use_invite(setup.invite_id, iso_ms(now))
            owner_id = invite.owner_id
            creds = await tx.get_credentials(owner_id) or OwnerCredentials(owner_id, iso_ms(now))
            await tx.put_credentials(_with_passphrase(creds, hashed, now))
            await tx.revoke_sessions(owner_id, iso_ms(now))
            await record(
                tx,
                now,
                "USER_SETUP_COMPLETED",
                owner_id,
                owner_id=owner_id,
                invite_id=invite.invite_id,
            )
        return owner_id

    async def login(
        self,
        attempt: LoginAttempt,
        *,
        address: str,
        locks: FailureLocks,
        device: str | None = None,
    ) -> SignedIn:
        """Passphrase, then the TOTP code (or a backup code) when TOTP is on, then a session.

        ``address`` is the client's address and ``locks`` the worker's failures per address: a
        stranger's failures slow down that stranger's address, not the owner's. ``device`` is
        the device token of a client the owner signed in with before, if it sent one."""
        now_ms = epoch_ms(self._options.clock())
        locks.check(address, now_ms, "Too many failed logins from this address")
        keyring = (await self._runtime.snapshot()).keyring
        try:
            done = await _login(self._store, keyring, attempt, self._options, device)
        except OpenLeashError as exc:
            if exc.code in _ADDRESS_FAILURES:
                locks.fail(address, now_ms)
            raise
        locks.clear(address)
        return done

    async def authenticate(self, token: str | None) -> OwnerCall:
        """The owner behind a session token, or 401 saying why not."""
        now = self._options.clock()
        if not token:
            raise AuthenticationError("MISSING_TOKEN", "Owner session token required")
        keyring = (await self._runtime.snapshot()).keyring
        try:
            claims = verify_token(token, keyring, now=now, purpose=USER_SESSION)
        except TokenError as exc:
            raise AuthenticationError("INVALID_SESSION", exc.reason) from None
        session_id, owner_id = claims.get("sid"), claims.get("sub")
        if not isinstance(session_id, str) or not isinstance(owner_id, str):
            raise AuthenticationError("INVALID_SESSION", "Session token names no session")
        async with self._store.read() as tx:
            session = await tx.get_session(session_id)
            owner = await tx.get_owner(owner_id)
        if session is None or session.user_principal_id != owner_id or not _open(session, now):
            raise AuthenticationError("INVALID_SESSION", "Session ended; log in again")
        if owner is None:
            raise NotFoundError("USER_NOT_FOUND", "User not found")
        if owner.status != Status.ACTIVE:
            raise AuthenticationError("USER_INACTIVE", "User is not active")
        return OwnerCall(owner, session, now)

    async def still_signed_in(self, call: OwnerCall) -> bool:
        """Whether the session of ``call`` is still open (not logged out, not ended by a
        passphrase reset, not expired) and its owner still active: for long-lived requests
        (event streams)."""
        now = self._options.clock()
        async with self._store.read() as tx:
            session = await tx.get_session(call.session.session_id)
            owner = await tx.get_owner(call.owner_id)
        return (
            session is not None
            and _open(session, now)
            and owner is not None
            and owner.status == Status.ACTIVE
        )

    async def logout(self, call: OwnerCall) -> None:
        async with self._store.transaction() as tx:
            await tx.revoke_session(call.session.session_id, iso_ms(call.now))
            await record(tx, call.now, "USER_LOGOUT", call.owner_id, owner_id=call.owner_id)

    async def profile(self, call: OwnerCall) -> OwnerProfile:
        async with self._store.read() as tx:
            creds = await tx.get_credentials(call.owner_id)
            backup_left = await tx.count_backup_codes(call.owner_id)
        return OwnerProfile(
            call.owner, bool(creds and creds.totp_enabled), backup_left, call.session.expires_at
        )

    async def start_totp(self, call: OwnerCall, given: TotpCode) -> TotpEnrolment:
        """Start (re-)enrolment: a new secret, in force once a code of it is confirmed. While
        TOTP is on, starting again needs a current code (or a backup code)."""
        secret = totp.new_secret()
        now, owner_id = call.now, call.owner_id
        async with (
            factor_attempts(self._store, call, self._options),
            self._store.transaction() as tx,
        ):
            creds = await tx.get_credentials(owner_id) or OwnerCredentials(owner_id, iso_ms(now))
            if creds.totp_enabled:
                if given.code is None:
                    raise ForbiddenError(
                        "TOTP_REQUIRED", "TOTP is on: enter a current code to enrol a new device"
                    )
                _check_unlocked(creds, now)
                if await _second_factor_matches(tx, creds, given.code, now) is None:
                    raise SecondFactorError("INVALID_TOTP_CODE", "Invalid TOTP or backup code")
                creds = await tx.get_credentials(owner_id) or creds
            await tx.put_credentials(replace(creds, totp_pending=secret, updated_at=iso_ms(now)))
            await record(tx, now, "USER_TOTP_SETUP_STARTED", owner_id, owner_id=owner_id)
        uri = totp.provisioning_uri(secret, call.owner.display_name)
        # The secret goes to its owner once, here, to be put into an authenticator app.
        return TotpEnrolment(secret, uri, totp.qr_svg(uri))

    async def confirm_totp(self, call: OwnerCall, given: TotpCode) -> list[str]:
        """Turn TOTP on with a code of the pending secret; returns fresh backup codes, once."""
        now = call.now
        codes = totp.new_backup_codes()
        async with self._store.transaction() as tx:
            creds = await tx.get_credentials(call.owner_id)
            if creds is None or creds.totp_pending is None:
                raise InvalidInputError("TOTP_NOT_SETUP", "Start TOTP setup first")
            counter = totp.verify(creds.totp_pending, given.code or "", now.timestamp(), None)
            if counter is None:
                raise InvalidInputError("INVALID_TOTP_CODE", "Invalid TOTP code")
            await tx.put_credentials(
                replace(
                    creds,
                    totp_secret=creds.totp_pending,
                    totp_pending=None,
                    totp_enabled=True,
                    totp_last_counter=counter,
                    updated_at=iso_ms(now),
                )
            )
            await tx.replace_backup_codes(call.owner_id, [totp.hash_backup_code(c) for c in codes])
            await record(tx, now, "USER_TOTP_ENABLED", call.owner_id, owner_id=call.owner_id)
        return codes

    async def disable_totp(self, call: OwnerCall, given: TotpCode) -> None:
        """Turn TOTP off with a current code (or a backup code), unless the server requires it."""
        now = call.now
        if self._options.require_totp:
            raise ForbiddenError(
                "FORBIDDEN",
                "This server requires TOTP (security.require_totp); it cannot be turned off",
            )
        async with (
            factor_attempts(self._store, call, self._options),
            self._store.transaction() as tx,
        ):
            creds = await tx.get_credentials(call.owner_id)
            if creds is None or not creds.totp_enabled:
                raise InvalidInputError("TOTP_NOT_ENABLED", "TOTP is not enabled")
            _check_unlocked(creds, now)
            if await _second_factor_matches(tx, creds, given.code or "", now) is None:
                raise SecondFactorError("INVALID_TOTP_CODE", "Invalid TOTP or backup code")
            await tx.put_credentials(_without_totp(creds, now))
            await tx.replace_backup_codes(call.owner_id, [])
            await record(tx, now, "USER_TOTP_DISABLED", call.owner_id, owner_id=call.owner_id)


def _with_passphrase(creds: OwnerCredentials, hashed: str, now: datetime) -> OwnerCredentials:
    """The credentials with a new passphrase hash and every failure count cleared."""
    return replace(
        creds,
        passphrase_hash=hashed,
        failed_logins=0,
        locked_until_ms=0,
        factor_failures=0,
        factor_locked_until_ms=0,
        updated_at=iso_ms(now),
    )


def _without_totp(creds: OwnerCredentials, now: datetime) -> OwnerCredentials:
    return replace(
        creds,
        totp_secret=None,
        totp_pending=None,
        totp_enabled=False,
        totp_last_counter=None,
        updated_at=iso_ms(now),
    )


def _open(session: OwnerSession, now: datetime) -> bool:
    """Whether ``session`` is neither ended (logout, passphrase reset) nor expired at ``now``."""
    return session.revoked_at is None and session.expires_at > iso_ms(now)


# -- login --------------------------------------------------------------------------------------


#: Failed logins that count against the client address (and lock it once past the free ones).
_ADDRESS_FAILURES = frozenset({"INVALID_CREDENTIALS", "INVALID_TOTP_CODE", "LOGIN_LOCKED"})


def login_locks(options: Options) -> FailureLocks:
    """The per-address failure table :meth:`OwnerAccounts.login` takes; one per worker process."""
    return FailureLocks(
        options.login_free_attempts, options.login_lock_base_seconds, options.login_lock_max_seconds
    )


async def _login(
    store: Units[AccountsTx],
    keyring: KeyRing,
    attempt: LoginAttempt,
    options: Options,
    device: str | None,
) -> SignedIn:
    owner_id, code = attempt.user_principal_id, attempt.totp_code
    now = options.clock()
    device_claims = _device_claims(keyring, device, owner_id, now)
    async with store.read() as tx:
        owner = await tx.get_owner(owner_id)
        creds = await tx.get_credentials(owner_id)
    known = _device_known(device_claims, creds)
    if creds is not None and _login_locked(creds, now) and not _may_pass_lock(creds, code, known):
        _locked(creds, now)  # before hashing: a locked account costs a guesser's target nothing
    passphrase_ok = await _verify(creds.passphrase_hash if creds else None, attempt.passphrase)
    if owner is None or owner.status != Status.ACTIVE or creds is None:
        raise AuthenticationError("INVALID_CREDENTIALS", "Invalid user or passphrase")
    if creds.passphrase_hash is None:
        raise AuthenticationError("SETUP_REQUIRED", "Set a passphrase with your setup invite first")
    session = OwnerSession(
        session_id=new_id(),
        user_principal_id=owner_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=iso_ms(now),
        expires_at=iso_ms(now + timedelta(seconds=options.session_ttl_seconds)),
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
                replace(current, failed_logins=0, locked_until_ms=0, updated_at=iso_ms(now))
            )
            await tx.add_session(session)
            await record(
                tx, now, "USER_LOGIN", owner_id, owner_id=owner_id, session_id=session.session_id
            )
    if failure is not None:
        raise failure
    return _logged_in(keyring, session, now, options, _credential_mark(current))


async def _check_login(
    tx: FactorTx,
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
) -> JsonObject | None:
    """The claims of ``token`` if it is a device token this server gave ``owner_id`` at a login;
    anything else (absent, forged, expired, another owner's, another kind of token) is None."""
    if not token:
        return None
    try:
        claims = verify_token(token, keyring, now=now, purpose=OWNER_DEVICE)
    except OpenLeashError:
        return None
    return claims if claims.get("sub") == owner_id else None


def _device_known(claims: JsonObject | None, creds: OwnerCredentials | None) -> bool:
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
) -> SignedIn:
    owner_id = session.user_principal_id
    issued = issue_session_token(
        keyring.active(),
        now=now,
        ttl_seconds=options.session_ttl_seconds,
        user_principal_id=owner_id,
        system_roles=[],
        session_id=session.session_id,
    )
    return SignedIn(
        user_principal_id=owner_id,
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
async def factor_attempts(
    store: Units[FactorTx], call: OwnerCall, options: Options
) -> AsyncIterator[None]:
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
    tx: CredentialRepo, creds: OwnerCredentials, now: datetime, options: Options
) -> None:
    failed = creds.failed_logins + 1
    until = _lock_until(failed, options.login_account_free_attempts, now, options)
    await tx.put_credentials(
        replace(
            creds,
            failed_logins=failed,
            locked_until_ms=creds.locked_until_ms if until is None else until,
            updated_at=iso_ms(now),
        )
    )


async def _reset_factor_failures(tx: CredentialRepo, owner_id: str, now: datetime) -> None:
    # Read again: accepting a TOTP code moved its counter on, which must not be written back.
    creds = await tx.get_credentials(owner_id)
    if creds is not None and creds.factor_failures:
        await tx.put_credentials(
            replace(creds, factor_failures=0, factor_locked_until_ms=0, updated_at=iso_ms(now))
        )


async def _count_factor_failure(
    tx: CredentialRepo, creds: OwnerCredentials, now: datetime, options: Options
) -> None:
    failed = creds.factor_failures + 1
    until = _lock_until(failed, options.factor_free_attempts, now, options)
    await tx.put_credentials(
        replace(
            creds,
            factor_failures=failed,
            factor_locked_until_ms=creds.factor_locked_until_ms if until is None else until,
            updated_at=iso_ms(now),
        )
    )


async def _second_factor_matches(
    tx: FactorTx, creds: OwnerCredentials, code: str, now: datetime
) -> str | None:
    """``"totp"`` or ``"backup_code"`` when ``code`` is a fresh TOTP code or an unused backup
    code (which is used up, and audited); None otherwise."""
    owner_id = creds.user_principal_id
    if creds.totp_secret is not None:
        counter = totp.verify(creds.totp_secret, code, now.timestamp(), creds.totp_last_counter)
        if counter is not None and await tx.advance_totp_counter(owner_id, counter):
            return "totp"
    if await tx.use_backup_code(owner_id, totp.hash_backup_code(code), iso_ms(now)):
        await record(tx, now, "USER_TOTP_BACKUP_USED", owner_id, owner_id=owner_id)
        return "backup_code"
    return None


async def check_second_factor(
    tx: FactorTx,
    owner_id: str,
    given: FactorCode,
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
    code = given.code()
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


async def passphrase_confirmed(store: Units[FactorTx], call: OwnerCall, given: object) -> bool:
    """True when a passphrase is ``given`` (the ``passphrase`` field of an answer as sent:
    None or empty for none, VALIDATION_ERROR for a value that is not a string) and it is the
    owner's; raises when a wrong one is given (it never silently lowers the assurance asked
    for)."""
    passphrase = _optional({"passphrase": given}, "passphrase")
    if passphrase is None:
        return False
    async with store.read() as tx:
        creds = await tx.get_credentials(call.owner_id)
    _check_unlocked(creds, call.now)
    if not await _verify(creds.passphrase_hash if creds else None, passphrase):
        # Callers run inside factor_attempts, which counts this against the owner.
        raise SecondFactorError("INVALID_CREDENTIALS", "Wrong passphrase")
    return True
