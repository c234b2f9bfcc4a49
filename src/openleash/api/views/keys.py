"""The JSON bodies of the admin key routes: public key material only, never a private key."""

from __future__ import annotations

from typing import Literal, TypedDict

from openleash.domain.models import ServerKey


class ServerKeyJson(TypedDict):
    """``ServerKey`` of the document."""

    kid: str
    kty: Literal["OKP"]
    alg: Literal["EdDSA"]
    public_key_b64: str
    created_at: str
    revoked_at: str | None
    active: bool


class KeyListJson(TypedDict):
    """``ServerKeyList`` of the document."""

    keys: list[ServerKeyJson]


class KeyRevokedJson(TypedDict):
    """``KeyRevoked`` of the document."""

    kid: str
    revoked: Literal[True]


def server_key(key: ServerKey, *, active: bool | None = None) -> ServerKeyJson:
    """One key and whether it is the active one (``active`` overrides the stored flag)."""
    return {
        "kid": key.kid,
        "kty": "OKP",
        "alg": "EdDSA",
        "public_key_b64": key.public_key_b64,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "active": key.active if active is None else active,
    }


def key_list(keys: list[ServerKey]) -> KeyListJson:
    """``GET /v1/admin/keys``: oldest first."""
    return {"keys": [server_key(k) for k in keys]}


def key_revoked(kid: str) -> KeyRevokedJson:
    """``POST /v1/admin/keys/{kid}/revoke``."""
    return {"kid": kid, "revoked": True}
