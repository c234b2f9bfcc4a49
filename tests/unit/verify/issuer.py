"""A fake issuer: server keys that sign proofs, and ``/v1/public-keys`` on a mock transport."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from openleash.client import compute_action_hash, new_action
from openleash.crypto import issue_approval_token, issue_proof, issue_session_token, new_server_key
from openleash.domain.models import ServerKey
from openleash.policy.trust import counterparty_of
from openleash.verify import InMemoryReplayCache, ProofVerifier, ReplayCache

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
OWNER_ID = "11111111-2222-3333-4444-555555555555"
#: The service the test proofs are for, unless a test says otherwise.
SHOP = "shop.example"


def active(key: ServerKey) -> ServerKey:
    return ServerKey(key.kid, key.public_key_b64, key.private_key_b64, key.created_at, None, True)


@dataclass
class Issuer:
    keys: list[ServerKey] = field(default_factory=lambda: [active(new_server_key(NOW))])
    revoked: dict[str, str] = field(default_factory=dict)
    fetches: int = 0
    down: bool = False

    @property
    def key(self) -> ServerKey:
        return self.keys[-1]

    def rotate(self) -> ServerKey:
        self.keys.append(active(new_server_key(NOW)))
        return self.key

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/public-keys"
        self.fetches += 1
        if self.down:
            return httpx.Response(503, text="down")
        keys = [{**k.public_view(), "revoked_at": self.revoked.get(k.kid)} for k in self.keys]
        return httpx.Response(200, json={"keys": keys})

    def verifier(
        self,
        replay_cache: ReplayCache | None = None,
        *,
        audience: str | list[str] = SHOP,
        **options: Any,
    ) -> ProofVerifier:
        transport = httpx.MockTransport(self.handler)
        return ProofVerifier(
            "http://issuer.test",
            audience=audience,
            http_client=httpx.Client(transport=transport),
            async_http_client=httpx.AsyncClient(transport=transport),
            replay_cache=replay_cache or InMemoryReplayCache(),
            clock=lambda: NOW,
            **options,
        )

    def action(
        self, action_type: str = "purchase", *, counterparty: str | None = SHOP, **payload: Any
    ) -> dict[str, Any]:
        """An action dealing with ``counterparty`` (its ``relying_party.domain``)."""
        relying_party = {"domain": counterparty} if counterparty is not None else None
        return new_action(
            "agent-1", OWNER_ID, action_type, payload, requested_at=NOW, relying_party=relying_party
        )

    def proof(
        self,
        action: dict[str, Any] | None = None,
        *,
        key: ServerKey | None = None,
        decision_id: str = "d-1",
        ttl: int = 120,
        agent_id: str = "agent-1",
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A proof of ``action`` with the claims the server writes: its counterparty included
        (``extra`` replaces the extension claims)."""
        act = action or self.action()
        if extra is None:
            named = counterparty_of(act)
            extra = {"counterparty": named} if named is not None else {}
        token, _ = issue_proof(
            key or self.key,
            now=NOW,
            ttl_seconds=ttl,
            decision_id=decision_id,
            owner_type="user",
            owner_id=OWNER_ID,
            agent_id=agent_id,
            action_type=act["action_type"],
            action_hash=compute_action_hash(act),
            matched_rule_id="r1",
            extra=extra,
        )
        return token

    def approval_token(self, action: dict[str, Any]) -> str:
        token, _ = issue_approval_token(
            self.key,
            now=NOW,
            ttl_seconds=120,
            approval_request_id="ar-1",
            owner_type="user",
            owner_id=OWNER_ID,
            agent_id="agent-1",
            action_type=action["action_type"],
            action_hash=compute_action_hash(action),
        )
        return token

    def session_token(self) -> str:
        token, _ = issue_session_token(
            self.key, now=NOW, ttl_seconds=120, user_principal_id=OWNER_ID, system_roles=[]
        )
        return token
