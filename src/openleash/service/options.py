"""The knobs the use cases read, mapped from the settings by the bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Options:
    nonce_ttl_seconds: int = 600
    clock_skew_seconds: int = 120
    default_ttl_seconds: int = 120
    max_ttl_seconds: int = 3600
    invite_ttl_seconds: int = 86400
    challenge_ttl_seconds: int = 300
    version: str = "0.1.0"
    #: How stale (seconds) the in-memory agents, keys and policies may be before the store's
    #: revision is checked again. 0 checks on every request.
    config_refresh_seconds: float = 0.0
    #: JSONPaths into the action whose values are replaced by "[REDACTED]" in audit records
    #: (``audit.redact``); the action hash is always of the action as sent.
    audit_redact: tuple[str, ...] = ()
    approval_request_ttl_seconds: int = 86400
    approval_token_ttl_seconds: int = 3600
    session_ttl_seconds: int = 28800
    #: Owners must have TOTP before they may approve, deny or revoke (``security.require_totp``).
    require_totp: bool = False
    #: Failed logins in a row from one client address before that address waits a while
    #: (doubling each time; per worker process).
    login_free_attempts: int = 5
    #: Failed logins of one account, from any address, before the account locks (doubling);
    #: a locked account still lets in a login with the passphrase and a second factor.
    login_account_free_attempts: int = 20
    #: Wrong second factors (or passphrases) inside signed-in sessions before second-factor
    #: checks of the account wait a while (doubling); apart from the login count.
    factor_free_attempts: int = 5
    login_lock_base_seconds: int = 30
    login_lock_max_seconds: int = 900
    #: Deliver webhooks to loopback, private and link-local addresses (``webhooks.allow_private``).
    webhook_allow_private: bool = False
    #: the clock; tests inject a fixed one. Time is a parameter everywhere below the service.
    clock: Callable[[], datetime] = field(default=utc_now)
