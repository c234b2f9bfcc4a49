"""The server's signing keys: created on first start, rotated, revoked."""

from __future__ import annotations

from typing import Protocol

from openleash.crypto import new_server_key
from openleash.domain.errors import ConflictError, NotFoundError
from openleash.domain.models import ServerKey
from openleash.domain.timefmt import iso_ms
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.ports import AuditLog, KeyRepo, Units


class KeysTx(KeyRepo, AuditLog, Protocol):
    """The store roles managing the signing keys uses."""

    async def bump_revision(self) -> None: ...


class Keys:
    """The operator's signing keys: the first one made on start, list, rotate, revoke."""

    def __init__(self, store: Units[KeysTx], options: Options) -> None:
        self._store = store
        self._options = options

    async def ensure(self) -> None:
        """Create the first signing key if there is none (idempotent across processes)."""
        now = self._options.clock()
        async with self._store.transaction() as tx:
            if any(k.active and k.revoked_at is None for k in await tx.list_keys()):
                return
            key = new_server_key(now)
            await tx.add_key(key, make_active=True)
            await tx.bump_revision()
            await record(tx, now, "KEY_CREATED", None, kid=key.kid)

    async def list_all(self) -> list[ServerKey]:
        """Every key, oldest first (no private key material is ever rendered: see views)."""
        async with self._store.read() as tx:
            return await tx.list_keys()

    async def rotate(self) -> ServerKey:
        """A new active key; earlier keys still verify what they signed until revoked."""
        now = self._options.clock()
        key = new_server_key(now)
        async with self._store.transaction() as tx:
            await tx.add_key(key, make_active=True)
            await tx.bump_revision()
            await record(tx, now, "KEY_ROTATED", None, kid=key.kid)
        return key

    async def revoke(self, kid: str) -> None:
        """Revoke a key: nothing it signed verifies any more (revoking it again changes
        nothing). ``KEY_NOT_FOUND``; ``KEY_ACTIVE``: the active key cannot be revoked, rotate
        first, so the server always has a key to sign with."""
        now = self._options.clock()
        async with self._store.transaction() as tx:
            key = next((k for k in await tx.list_keys() if k.kid == kid), None)
            if key is None:
                raise NotFoundError("KEY_NOT_FOUND", f"Key {kid} not found")
            if key.active:
                raise ConflictError("KEY_ACTIVE", "The active key cannot be revoked; rotate first")
            if key.revoked_at is None:
                await tx.revoke_key(kid, iso_ms(now))
                await tx.bump_revision()
                await record(tx, now, "KEY_REVOKED", None, kid=kid)
