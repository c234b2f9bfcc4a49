"""Settings: defaults, then ``config.yaml`` (same keys as the TypeScript OpenLeash), then
environment variables. Nothing here reads files at import time."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from openleash.domain.errors import InvalidInputError
from openleash.domain.redaction import check_redactions
from openleash.policy.syntax import YamlError, load_yaml

ADMIN_MODES = ("localhost", "token", "localhost_or_token")
#: A mapping of ``config.yaml`` as the YAML parser makes it: a value is whatever the file's
#: author wrote (a YAML timestamp is no JSON), read only after an ``isinstance`` check.
Section: TypeAlias = Mapping[str, object]
#: A PEP token is a password anyone who holds it can decide with: no short ones.
MIN_PEP_TOKEN_LENGTH = 16

DEFAULT_CONFIG_YAML = """\
# OpenLeash settings. Every key is optional; these are the defaults.
server:
  bind_address: "127.0.0.1:8787"
  public_url: ""             # the URL people and agents use; empty: http://127.0.0.1:<port>
  trusted_proxies: []        # addresses/networks whose X-Forwarded-For/-Proto are believed
  max_header_bytes: 65536    # a request head (request line and headers) larger is refused (431)
  header_timeout_seconds: 10 # a connection that has not sent a whole head by then is closed
  body_timeout_seconds: 60   # a request body not arrived by then (or a response the client
                             # has stopped reading for that long) is dropped
  keep_alive_seconds: 5      # an idle keep-alive connection is closed after this
  max_connections: 1000      # open connections per worker; more are closed at once
  backlog: 2048              # connections waiting to be accepted
admin:
  mode: localhost_or_token   # localhost | token | localhost_or_token
  token: ""                  # bearer token for remote admin access (empty: none)
security:
  nonce_ttl_seconds: 600
  clock_skew_seconds: 120
tokens:
  default_ttl_seconds: 120
  max_ttl_seconds: 3600
store:
  url: ""                    # empty: SQLite file in the data folder; or postgresql://user@host/db
  timeout_seconds: 5         # longest wait for the store; then 503 STORE_UNAVAILABLE
approval:
  request_ttl_seconds: 86400 # how long an approval request may wait for its owner
  token_ttl_seconds: 3600    # how long an approval token may wait to be used (once)
sessions:
  ttl_seconds: 28800         # owner sessions (portal and owner API)
webhooks:
  allow_private: false       # true: also deliver to loopback/private/link-local addresses
audit:
  redact: []                 # action fields kept out of the audit log, e.g. "$.payload.card_number"
authzen:
  pep_tokens: []             # bearer tokens of AuthZEN enforcement points (/access/v1/evaluation)
limits:
  anonymous_per_minute: 120  # unauthenticated requests (and failed sign-ins) per client address
"""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one connection may take of a worker (read by the HTTP protocol, api/protocol.py)."""

    max_header_bytes: int = 65_536
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections: int = 1000


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8787
    workers: int = 1
    admin_mode: str = "localhost_or_token"
    admin_token: str = field(default="", repr=False)
    nonce_ttl_seconds: int = 600
    clock_skew_seconds: int = 120
    require_totp: bool = False
    default_ttl_seconds: int = 120
    max_ttl_seconds: int = 3600
    approval_request_ttl_seconds: int = 86400
    approval_token_ttl_seconds: int = 3600
    session_ttl_seconds: int = 28800
    webhook_allow_private: bool = False
    #: May hold the database password: kept out of the repr (and so out of logs).
    store_url: str = field(default="", repr=False)
    #: Longest wait for the store (its lock, a connection, a statement) before a request is
    #: answered 503 ``STORE_UNAVAILABLE``.
    store_timeout_seconds: float = 5.0
    max_body_bytes: int = 1_048_576
    #: JSONPaths into the action replaced by "[REDACTED]" before decisions are audited.
    audit_redact: tuple[str, ...] = ()
    #: Bearer tokens that let an AuthZEN PEP ask for decisions on behalf of any active agent.
    authzen_pep_tokens: tuple[str, ...] = field(default=(), repr=False)
    #: Requests per minute (and burst) one client address may make without authenticating.
    anonymous_per_minute: int = 120
    #: The base of every link the server hands out; never taken from a request's Host.
    public_url: str = ""
    #: Peers (IP addresses or networks) whose forwarded headers are believed.
    trusted_proxies: tuple[str, ...] = ()
    max_header_bytes: int = 65_536
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 60
    keep_alive_seconds: int = 5
    max_connections: int = 1000
    backlog: int = 2048

    @property
    def database(self) -> str:
        """Where the store lives: ``store.url`` if set, else ``<data_dir>/openleash.db``."""
        return self.store_url or str(self.data_dir / "openleash.db")

    @property
    def base_url(self) -> str:
        """Where the server is reached: ``server.public_url``, else loopback on its port."""
        return self.public_url or f"http://127.0.0.1:{self.port}"

    @property
    def connection_limits(self) -> ConnectionLimits:
        return ConnectionLimits(
            max_header_bytes=self.max_header_bytes,
            header_timeout=self.header_timeout_seconds,
            body_timeout=self.body_timeout_seconds,
            max_connections=self.max_connections,
        )

    def with_limits(self, server: Section) -> Settings:
        """These settings with the connection limits of the ``server`` section."""
        found = {key: _int(server, key, "server", getattr(self, key)) for key in LIMIT_KEYS}
        return replace(self, **found)  # type: ignore[arg-type]  # all int fields, checked above

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _section(data: Section, name: str) -> Section:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise InvalidInputError("VALIDATION_ERROR", f"config.yaml: `{name}` must be a mapping")
    return value


def _int(section: Section, key: str, where: str, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInputError(
            "VALIDATION_ERROR", f"config.yaml: `{where}.{key}` must be a positive integer"
        )
    return value


def _bool(section: Section, key: str, where: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInputError(
            "VALIDATION_ERROR", f"config.yaml: `{where}.{key}` must be true or false"
        )
    return value


def _seconds(section: Section, key: str, where: str, default: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"config.yaml: `{where}.{key}` must be a number of seconds above 0, at most 3600",
        )
    return float(value)


def _bind(address: object) -> tuple[str, int]:
    host, sep, port = str(address).rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"config.yaml: `server.bind_address` must look like 127.0.0.1:8787, got {address!r}",
        )
    return host.strip("[]"), int(port)


def _public_url(value: object) -> str:
    """An absolute http(s) URL with a host and nothing after it but an optional ``/``."""
    text = str(value or "").strip()
    if not text:
        return ""
    parts = urlsplit(text)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise InvalidInputError(
            "VALIDATION_ERROR",
            "`server.public_url` must look like https://openleash.example.com (scheme, host, "
            f"optional port, no path), got {text!r}",
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _proxies(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if items is None:
        return ()
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise InvalidInputError(
            "VALIDATION_ERROR", "`server.trusted_proxies` must be a list of IP addresses"
        )
    found = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise InvalidInputError(
                "VALIDATION_ERROR",
                f"`server.trusted_proxies`: {item!r} is not an IP address or network",
            ) from None
    return tuple(found)


def _redactions(audit: Section, default: tuple[str, ...]) -> tuple[str, ...]:
    paths = audit.get("redact", default)
    if paths is None:
        return ()
    if not isinstance(paths, list | tuple) or not all(isinstance(p, str) for p in paths):
        raise InvalidInputError(
            "VALIDATION_ERROR", "config.yaml: `audit.redact` must be a list of JSONPaths"
        )
    try:
        return check_redactions(paths)
    except ValueError as exc:
        raise InvalidInputError("VALIDATION_ERROR", f"config.yaml: `audit.redact`: {exc}") from None


def _pep_tokens(authzen: Section, default: tuple[str, ...]) -> tuple[str, ...]:
    tokens = authzen.get("pep_tokens", list(default))
    if tokens is None:
        return ()
    if not isinstance(tokens, list) or not all(
        isinstance(t, str) and len(t) >= MIN_PEP_TOKEN_LENGTH for t in tokens
    ):
        raise InvalidInputError(
            "VALIDATION_ERROR",
            "config.yaml: `authzen.pep_tokens` must be a list of tokens of at least "
            f"{MIN_PEP_TOKEN_LENGTH} characters",
        )
    return tuple(tokens)


def _check_replay_window(settings: Settings) -> None:
    # A request is accepted while its timestamp is within the skew either side of now, so its
    # nonce must be remembered at least that whole window; otherwise a replay sent after the
    # nonce is forgotten but before the timestamp is too old would be accepted.
    if settings.nonce_ttl_seconds < 2 * settings.clock_skew_seconds:
        raise InvalidInputError(
            "VALIDATION_ERROR",
            "config.yaml: `security.nonce_ttl_seconds` must be at least twice "
            f"`security.clock_skew_seconds` ({settings.nonce_ttl_seconds} < "
            f"2 x {settings.clock_skew_seconds}); raise the nonce TTL or lower the skew",
        )


def settings_from_mapping(data: Section, base: Settings) -> Settings:
    server, admin = _section(data, "server"), _section(data, "admin")
    security, tokens = _section(data, "security"), _section(data, "tokens")
    approval, sessions = _section(data, "approval"), _section(data, "sessions")
    store, audit = _section(data, "store"), _section(data, "audit")
    webhooks = _section(data, "webhooks")
    authzen, limits = _section(data, "authzen"), _section(data, "limits")
    host, port = _bind(server.get("bind_address", f"{base.host}:{base.port}"))
    mode = admin.get("mode", base.admin_mode)
    if not isinstance(mode, str) or mode not in ADMIN_MODES:
        raise InvalidInputError(
            "VALIDATION_ERROR", f"config.yaml: `admin.mode` must be one of {', '.join(ADMIN_MODES)}"
        )
    settings = replace(
        base,
        host=host,
        port=port,
        admin_mode=mode,
        admin_token=str(admin.get("token") or ""),
        nonce_ttl_seconds=_int(security, "nonce_ttl_seconds", "security", base.nonce_ttl_seconds),
        clock_skew_seconds=_int(
            security, "clock_skew_seconds", "security", base.clock_skew_seconds
        ),
        require_totp=_bool(security, "require_totp", "security", base.require_totp),
        default_ttl_seconds=_int(tokens, "default_ttl_seconds", "tokens", base.default_ttl_seconds),
        max_ttl_seconds=_int(tokens, "max_ttl_seconds", "tokens", base.max_ttl_seconds),
        approval_request_ttl_seconds=_int(
            approval, "request_ttl_seconds", "approval", base.approval_request_ttl_seconds
        ),
        approval_token_ttl_seconds=_int(
            approval, "token_ttl_seconds", "approval", base.approval_token_ttl_seconds
        ),
        session_ttl_seconds=_int(sessions, "ttl_seconds", "sessions", base.session_ttl_seconds),
        webhook_allow_private=_bool(
            webhooks, "allow_private", "webhooks", base.webhook_allow_private
        ),
        store_url=str(store.get("url") or ""),
        store_timeout_seconds=_seconds(
            store, "timeout_seconds", "store", base.store_timeout_seconds
        ),
        audit_redact=_redactions(audit, base.audit_redact),
        authzen_pep_tokens=_pep_tokens(authzen, base.authzen_pep_tokens),
        anonymous_per_minute=_int(
            limits, "anonymous_per_minute", "limits", base.anonymous_per_minute
        ),
        public_url=_public_url(server.get("public_url", base.public_url)),
        trusted_proxies=_proxies(server.get("trusted_proxies", list(base.trusted_proxies))),
    ).with_limits(server)
    _check_replay_window(settings)
    return settings


LIMIT_KEYS = (
    "max_header_bytes",
    "header_timeout_seconds",
    "body_timeout_seconds",
    "keep_alive_seconds",
    "max_connections",
    "backlog",
)


def load_settings(
    config_path: Path | None = None, data_dir: Path | None = None, env: dict[str, str] | None = None
) -> Settings:
    """Defaults <- ``config.yaml`` (if present) <- ``OPENLEASH_*`` environment variables."""
    env = dict(os.environ) if env is None else env
    base = Settings(data_dir=data_dir or Path(env.get("OPENLEASH_DATA_DIR", "data")))
    path = config_path or Path(env.get("OPENLEASH_CONFIG", "config.yaml"))
    if path.exists():
        try:
            data = load_yaml(path.read_text(encoding="utf-8")) or {}
        except YamlError as exc:
            raise InvalidInputError("VALIDATION_ERROR", f"{path}: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInputError("VALIDATION_ERROR", f"{path}: expected a mapping of settings")
        base = settings_from_mapping(data, base)
    if env.get("OPENLEASH_DATABASE_URL"):
        base = replace(base, store_url=env["OPENLEASH_DATABASE_URL"])
    if env.get("OPENLEASH_ADMIN_TOKEN"):
        base = replace(base, admin_token=env["OPENLEASH_ADMIN_TOKEN"])
    return _server_env(base, env)


def _server_env(base: Settings, env: dict[str, str]) -> Settings:
    if env.get("OPENLEASH_BIND_ADDRESS"):
        host, port = _bind(env["OPENLEASH_BIND_ADDRESS"])
        base = replace(base, host=host, port=port)
    if env.get("OPENLEASH_PUBLIC_URL"):
        base = replace(base, public_url=_public_url(env["OPENLEASH_PUBLIC_URL"]))
    if "OPENLEASH_TRUSTED_PROXIES" in env:
        base = replace(base, trusted_proxies=_proxies(env["OPENLEASH_TRUSTED_PROXIES"]))
    return base
