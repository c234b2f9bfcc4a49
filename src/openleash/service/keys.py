"""The server's signing keys: created on first start, rotated, revoked."""

from __future__ import annotations

from typing import Any

from openleash.crypto import new_server_key
from openleash.domain.errors import ConflictError, NotFoundError
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.ports import Store
from openleash.service.timefmt import iso


async def ensure_key(store: Store, options: Options) -> None:
    """Create the first signing key if there is none (idempotent across processes)."""
    async with store.transaction() as tx:
        if any(k.active and k.revoked_at is None for k in await tx.list_keys()):
            return
        key = new_server_key(options.clock())
        await tx.add_key(key, make_active=True)
        await tx.bump_revision()
        await record(tx, options.clock(), "KEY_CREATED", None, kid=key.kid)


async def list_keys(store: Store) -> list[dict[str, Any]]:
    async with store.read() as tx:
        keys = await tx.list_keys()
    return [{**k.public_view(), "active": k.active} for k in keys]


async def rotate_key(store: Store, options: Options) -> dict[str, Any]:
    """A new active key; earlier keys still verify what they signed until revoked."""
    key = new_server_key(options.clock())
    async with store.transaction() as tx:
        await tx.add_key(key, make_active=True)
        await tx.bump_revision()
        await record(tx, options.clock(), "KEY_ROTATED", None, kid=key.kid)
    return {**key.public_view(), "active": True}


async def revoke_key(store: Store, kid: str, options: Options) -> dict[str, Any]:
    """Revoke a key: nothing it signed verifies any more. The active key cannot be revoked;
    rotate first, so the server always has a key to sign with."""
    now = options.clock()
    async with store.transaction() as tx:
        keys = {k.kid: k for k in await tx.list_keys()}
        key = keys.get(kid)
        if key is None:
            raise NotFoundError("KEY_NOT_FOUND", f"Key {kid} not found")
        if key.active:
            raise ConflictError("KEY_ACTIVE", "The active key cannot be revoked; rotate first")
        if key.revoked_at is None:
            await tx.revoke_key(kid, iso(now))
            await tx.bump_revision()
            await record(tx, now, "KEY_REVOKED", None, kid=kid)
    return {"kid": kid, "revoked": True}
