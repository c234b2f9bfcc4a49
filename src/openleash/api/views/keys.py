"""The JSON bodies of the admin key routes: public key material only, never a private key."""

from __future__ import annotations

from typing import Any

from openleash.domain.models import ServerKey


def server_key(key: ServerKey, *, active: bool | None = None) -> dict[str, Any]:
    """One key and whether it is the active one (``active`` overrides the stored flag)."""
    return {**key.public_view(), "active": key.active if active is None else active}


def key_list(keys: list[ServerKey]) -> dict[str, Any]:
    """``GET /v1/admin/keys``: oldest first."""
    return {"keys": [server_key(k) for k in keys]}


def key_revoked(kid: str) -> dict[str, Any]:
    """``POST /v1/admin/keys/{kid}/revoke``."""
    return {"kid": kid, "revoked": True}
