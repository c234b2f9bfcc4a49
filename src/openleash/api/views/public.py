"""The JSON of the routes anyone may call: health, the public keys, a proof's verdict."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from openleash.domain.jsonvalue import JsonOut
from openleash.domain.models import PublicKeyView, ServerKey
from openleash.service.public import Health, ProofVerdict


def health_json(health: Health, base_url: str) -> dict[str, JsonOut]:
    """``GET /v1/health``, with where the API reference is (``base_url``: this server)."""
    return {
        "status": "ok" if health.ready else "unavailable",
        "time": health.time,
        "version": health.version,
        "store": health.store,
        "api_reference": f"{base_url}/reference",
        "openapi_spec": f"{base_url}/reference/openapi.json",
    }


class PublicKeysJson(TypedDict):
    """``PublicKeys`` of the document."""

    keys: list[PublicKeyView]


def public_keys_json(keys: Iterable[ServerKey]) -> PublicKeysJson:
    """``GET /v1/public-keys``: every key, revoked ones marked."""
    return {"keys": [key.public_view() for key in keys]}


def verdict_json(verdict: ProofVerdict) -> dict[str, JsonOut]:
    """``POST /v1/verify-proof``: ``valid``, then ``reason`` when not, then the claims once
    the signature verified."""
    body: dict[str, JsonOut] = {"valid": verdict.valid}
    if verdict.reason is not None:
        body["reason"] = verdict.reason
    if verdict.claims is not None:
        body["claims"] = verdict.claims
    return body
