"""Record builders for the contract tests: every field set, so round trips check every column."""

from __future__ import annotations

from typing import Any

from openleash.crypto import generate_keypair
from openleash.domain.models import (
    Agent,
    AuditEvent,
    Binding,
    Challenge,
    Invite,
    Owner,
    PolicyRecord,
    ServerKey,
)

T0 = "2026-01-02T02:59:59.678Z"


def at(second: int) -> str:
    return f"2026-01-02T03:{second // 60:02d}:{second % 60:02d}.000Z"


def owner(oid: str = "user-1", **changes: Any) -> Owner:
    fields: dict[str, Any] = {
        "user_principal_id": oid,
        "display_name": f"Owner {oid}",
        "status": "ACTIVE",
        "created_at": T0,
        "owner_type": "user",
    }
    return Owner(**{**fields, **changes})


def agent(
    apid: str = "ap-1", agent_id: str = "agent-a", owner_id: str = "user-1", **changes: Any
) -> Agent:
    fields: dict[str, Any] = {
        "agent_principal_id": apid,
        "agent_id": agent_id,
        "owner_type": "user",
        "owner_id": owner_id,
        "public_key_b64": f"pk-{apid}",
        "status": "ACTIVE",
        "created_at": T0,
        "attributes": {"team": "ops", "nested": {"list": [1, 2.5, None, True], "é": "ü"}},
        "revoked_at": None,
        "webhook_url": "",
        "webhook_secret": f"secret-{apid}",
        "webhook_auth_token": f"token-{apid}",
    }
    return Agent(**{**fields, **changes})


def policy(pid: str = "pol-1", owner_id: str = "user-1", **changes: Any) -> PolicyRecord:
    fields: dict[str, Any] = {
        "policy_id": pid,
        "owner_type": "user",
        "owner_id": owner_id,
        "applies_to_agent_principal_id": None,
        "name": f"name {pid}",
        "description": "a policy\nwith two lines",
        "policy_yaml": "version: 1\ndefault: deny\nrules: []\n",
        "created_at": T0,
        "updated_at": T0,
    }
    return PolicyRecord(**{**fields, **changes})


def binding(
    bid: str, policy_id: str = "pol-1", owner_id: str = "user-1", **changes: Any
) -> Binding:
    fields: dict[str, Any] = {
        "binding_id": bid,
        "owner_type": "user",
        "owner_id": owner_id,
        "policy_id": policy_id,
        "applies_to_agent_principal_id": None,
        "applies_to_group_id": None,
        "rank": None,
    }
    return Binding(**{**fields, **changes})


def key(kid: str, **changes: Any) -> ServerKey:
    fields: dict[str, Any] = {
        "kid": kid,
        "public_key_b64": f"pub-{kid}",
        "private_key_b64": f"priv-{kid}",
        "created_at": T0,
        "revoked_at": None,
        "active": False,
    }
    return ServerKey(**{**fields, **changes})


def signing_key(kid: str, **changes: Any) -> ServerKey:
    """A key that really signs: a transaction appending audit records while it is active signs
    checkpoints of the chain with it."""
    public_b64, private_b64 = generate_keypair()
    return key(kid, **{"public_key_b64": public_b64, "private_key_b64": private_b64, **changes})


def challenge(cid: str = "ch-1", **changes: Any) -> Challenge:
    fields: dict[str, Any] = {
        "challenge_id": cid,
        "agent_id": "agent-a",
        "agent_pubkey_b64": "pk",
        "owner_type": "user",
        "owner_id": "user-1",
        "challenge_b64": "Y2hhbGxlbmdl",
        "expires_at": at(300),
        "created_at": T0,
        "agent_attributes": {"role": "buyer"},
    }
    return Challenge(**{**fields, **changes})


def invite(iid: str = "inv-1", **changes: Any) -> Invite:
    fields: dict[str, Any] = {
        "invite_id": iid,
        "kind": "agent",
        "owner_type": "user",
        "owner_id": "user-1",
        "token_hash": "hash",
        "token_salt": "salt",
        "expires_at": at(600),
        "created_at": T0,
        "used_at": None,
    }
    return Invite(**{**fields, **changes})


def event(n: int, **changes: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "event_id": f"ev-{n}",
        "timestamp": at(n),
        "event_type": "DECISION_CREATED",
        "principal_id": "ap-1",
        "action_id": f"act-{n}",
        "decision_id": f"dec-{n}",
        "metadata_json": {"n": n, "owner_id": "user-1", "agent_principal_id": "ap-1"},
    }
    return AuditEvent(**{**fields, **changes})
