"""The one place that wires settings, store and services together. Nothing runs at import."""

from __future__ import annotations

from dataclasses import dataclass

from openleash import __version__
from openleash.config import Settings
from openleash.service.keys import ensure_key
from openleash.service.options import Options
from openleash.service.ports import Store
from openleash.service.runtime import Runtime
from openleash.store import open_store


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    options: Options
    store: Store
    runtime: Runtime


def options_from(settings: Settings) -> Options:
    return Options(
        nonce_ttl_seconds=settings.nonce_ttl_seconds,
        clock_skew_seconds=settings.clock_skew_seconds,
        default_ttl_seconds=settings.default_ttl_seconds,
        max_ttl_seconds=settings.max_ttl_seconds,
        version=__version__,
        # Changes made by another process (the CLI, another worker) are seen within this time.
        config_refresh_seconds=0.1,
        audit_redact=settings.audit_redact,
        approval_request_ttl_seconds=settings.approval_request_ttl_seconds,
        approval_token_ttl_seconds=settings.approval_token_ttl_seconds,
        session_ttl_seconds=settings.session_ttl_seconds,
        require_totp=settings.require_totp,
        webhook_allow_private=settings.webhook_allow_private,
    )


async def open_services(settings: Settings, options: Options | None = None) -> Services:
    """Open the store (creating and migrating it if needed) and make sure a signing key exists."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await open_store(settings.database, timeout=settings.store_timeout_seconds)
    opts = options or options_from(settings)
    await ensure_key(store, opts)
    return Services(settings, opts, store, Runtime(store, opts.config_refresh_seconds))
