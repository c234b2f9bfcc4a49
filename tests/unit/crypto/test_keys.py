"""The server key ring: one active signer, rotation, revocation, and no invalid states."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from openleash.crypto import KeyRing, load_public_key, new_server_key, public_key_b64_of
from openleash.domain.errors import OpenLeashError
from openleash.domain.models import ServerKey

NOW = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
LATER = datetime(2024, 2, 1, tzinfo=UTC)


def _code(caught: pytest.ExceptionInfo[OpenLeashError]) -> str:
    return caught.value.code


def test_new_server_key_is_a_fresh_inactive_ed25519_pair() -> None:
    key = new_server_key(NOW)
    assert uuid.UUID(key.kid).version == 4
    assert key.created_at == "2024-01-15T10:30:00.000Z"
    assert key.active is False
    assert key.revoked_at is None
    assert public_key_b64_of(key.private_key_b64) == key.public_key_b64
    assert new_server_key(NOW).kid != key.kid
    assert key.private_key_b64 not in repr(key)


def test_rotate_activates_the_new_key_only() -> None:
    first = new_server_key(NOW)
    second = new_server_key(LATER)
    ring = KeyRing([]).rotate(first).rotate(second)
    assert [key.active for key in ring.keys] == [False, True]
    assert ring.active().kid == second.kid
    assert ring.signer().kid == second.kid


def test_signer_signs_with_the_active_private_key() -> None:
    ring = KeyRing([]).rotate(new_server_key(NOW))
    signature = ring.signer().sign(b"data")
    load_public_key(ring.active().public_key_b64).verify(signature, b"data")


def test_a_ring_without_active_key_cannot_sign() -> None:
    ring = KeyRing([new_server_key(NOW)])
    with pytest.raises(OpenLeashError) as caught:
        ring.active()
    assert _code(caught) == "INTERNAL_ERROR"
    with pytest.raises(OpenLeashError):
        ring.signer()


def test_invalid_rings_are_refused() -> None:
    key = replace(new_server_key(NOW), active=True)
    other = replace(new_server_key(NOW), active=True)
    for keys in (
        [key, replace(key, active=False)],  # duplicate kid
        [key, other],  # two active
        [replace(key, revoked_at="2024-01-16T00:00:00.000Z")],  # revoked yet active
    ):
        with pytest.raises(OpenLeashError) as caught:
            KeyRing(keys)
        assert _code(caught) == "INTERNAL_ERROR"


def test_rotating_to_an_existing_kid_is_refused() -> None:
    key = new_server_key(NOW)
    with pytest.raises(OpenLeashError):
        KeyRing([]).rotate(key).rotate(key)


def test_a_corrupt_stored_public_key_fails_at_construction() -> None:
    broken = replace(new_server_key(NOW), public_key_b64="bm90IGEga2V5")
    with pytest.raises(OpenLeashError) as caught:
        KeyRing([broken])
    assert _code(caught) == "INVALID_KEY"


def test_revoke_marks_the_key_and_removes_it_from_verification() -> None:
    old = new_server_key(NOW)
    ring = KeyRing([]).rotate(old).rotate(new_server_key(NOW))
    assert ring.verification_key(old.kid) is not None
    revoked = ring.revoke(old.kid, LATER)
    assert revoked.public_key(old.kid).revoked_at == "2024-02-01T00:00:00.000Z"
    assert revoked.is_revoked(old.kid)
    assert revoked.verification_key(old.kid) is None
    assert len(revoked.verification_keys()) == 1
    assert ring.verification_key(old.kid) is not None  # the original ring is unchanged


def test_revoking_twice_keeps_the_first_time() -> None:
    old = new_server_key(NOW)
    ring = KeyRing([]).rotate(old).rotate(new_server_key(NOW)).revoke(old.kid, NOW)
    again = ring.revoke(old.kid, LATER)
    assert again.public_key(old.kid).revoked_at == "2024-01-15T10:30:00.000Z"


def test_the_active_key_cannot_be_revoked() -> None:
    ring = KeyRing([]).rotate(new_server_key(NOW))
    with pytest.raises(OpenLeashError) as caught:
        ring.revoke(ring.active().kid, NOW)
    assert _code(caught) == "KEY_ACTIVE"


def test_unknown_kid_is_key_not_found() -> None:
    ring = KeyRing([]).rotate(new_server_key(NOW))
    assert ring.get("nope") is None
    assert ring.verification_key("nope") is None
    assert not ring.is_revoked("nope")
    for action in (lambda: ring.public_key("nope"), lambda: ring.revoke("nope", NOW)):
        with pytest.raises(OpenLeashError) as caught:
            action()
        assert _code(caught) == "KEY_NOT_FOUND"


def test_public_view_lists_every_key_without_secrets() -> None:
    old = new_server_key(NOW)
    ring = KeyRing([]).rotate(old).rotate(new_server_key(NOW)).revoke(old.kid, LATER)
    view = ring.public_view()
    assert [entry["kid"] for entry in view] == [key.kid for key in ring.keys]
    assert view[0]["revoked_at"] == "2024-02-01T00:00:00.000Z"
    for entry in view:
        assert set(entry) == {"kid", "kty", "alg", "public_key_b64", "created_at", "revoked_at"}


def test_verify_only_ring_from_public_entries() -> None:
    ring = KeyRing([]).rotate(new_server_key(NOW))
    public = KeyRing.from_public_keys(ring.public_view())
    kid = ring.active().kid
    assert public.verification_key(kid) is not None
    assert public.get(kid) == ServerKey(
        kid=kid,
        public_key_b64=ring.active().public_key_b64,
        private_key_b64="",
        created_at=ring.active().created_at,
    )
    with pytest.raises(OpenLeashError):
        public.signer()
