"""A scripted OpenLeash agent API on an ``httpx.MockTransport``: no network, no server."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from openleash.client import AsyncClient, Client
from openleash.crypto import generate_keypair

OWNER_ID = "11111111-2222-3333-4444-555555555555"
SIGNED = ("X-Agent-Id", "X-Timestamp", "X-Nonce", "X-Body-Sha256", "X-Signature")


def decision(result: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "decision_id": extra.pop("decision_id", f"d-{result.lower()}"),
        "action_id": "a-1",
        "action_hash": "ab" * 32,
        "result": result,
        "matched_rule_id": extra.pop("matched_rule_id", "r1"),
        "reason": extra.pop("reason", f"because {result}"),
        "proof_token": None,
        "proof_expires_at": None,
        "obligations": [],
        "risk_level": "LOW",
    }
    body.update(extra)
    return body


@dataclass
class FakeServer:
    """Answers like the server; ``decide(action, approval_token)`` scripts the decisions and
    ``statuses`` the approval request's status on each read."""

    decide: Callable[[dict[str, Any], str | None], dict[str, Any]] = lambda action, token: decision(
        "ALLOW", proof_token="proof-1"
    )
    statuses: list[str] = field(default_factory=lambda: ["APPROVED"])
    requests: list[httpx.Request] = field(default_factory=list)
    filed: list[dict[str, Any]] = field(default_factory=list)
    authorized: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self.errors:
            status, body = self.errors[path]
            return httpx.Response(status, json=body)
        if path != "/v1/public-keys":
            missing = [h for h in SIGNED if h not in request.headers]
            if missing:
                return httpx.Response(401, json={"error": {"code": "MISSING_HEADERS"}})
        body = json.loads(request.content) if request.content else None
        return httpx.Response(200, json=self.route(request.method, path, body, request))

    def route(self, method: str, path: str, body: Any, request: httpx.Request) -> Any:
        if (method, path) == ("POST", "/v1/authorize"):
            token = body.pop("approval_token", None)
            self.authorized.append({"action": body, "approval_token": token})
            return self.decide(body, token)
        if (method, path) == ("GET", "/v1/agent/self"):
            return {
                "agent_principal_id": "ap-1",
                "agent_id": "agent-1",
                "owner_type": "user",
                "owner_id": OWNER_ID,
                "status": "ACTIVE",
                "attributes": {},
                "created_at": "2026-01-01T00:00:00.000Z",
                "webhook_url": None,
            }
        if (method, path) == ("POST", "/v1/agent/approval-requests"):
            self.filed.append(body)
            return {"approval_request_id": "ar-1", "status": "PENDING", "expires_at": "x"}
        if method == "GET" and path.startswith("/v1/agent/approval-requests/"):
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            view: dict[str, Any] = {
                "approval_request_id": path.rsplit("/", 1)[1],
                "status": status,
                "kind": "approval",
                "denial_reason": "too much" if status == "DENIED" else None,
            }
            if status == "APPROVED":
                view["approval_token"] = "approval-token-1"
            return view
        if (method, path) == ("POST", "/v1/agent/policy-drafts"):
            return {"policy_draft_id": "pd-1", "status": "PENDING", "created_at": "t"}
        if (method, path) == ("GET", "/v1/agent/policy-drafts"):
            status = request.url.params.get("status")
            return {"policy_drafts": [{"policy_draft_id": "pd-1", "status": status or "PENDING"}]}
        if method == "GET" and path.startswith("/v1/agent/policy-drafts/"):
            return {
                "policy_draft_id": path.rsplit("/", 1)[1],
                "status": "PENDING",
                "policy_yaml": "version: 1\n",
            }
        if (method, path) == ("GET", "/v1/agent/usage"):
            return {
                "agent_principal_id": "ap-1",
                "agent_id": "agent-1",
                "as_of": "t",
                "policy_hash": "h",
                "limits": [
                    {
                        "rule_id": "r1",
                        "action": "purchase",
                        "kind": "spend",
                        "max": 5000,
                        "window": "24h",
                        "per": "owner",
                        "by": [],
                        "since": "t0",
                        "usage": [{"by": {}, "used": 1200, "count": 2, "remaining": 3800}],
                    }
                ],
            }
        if (method, path) == ("GET", "/v1/public-keys"):
            return {"keys": [{"kid": "k1", "public_key_b64": "x", "revoked_at": None}]}
        raise AssertionError(f"unexpected {method} {path}")

    def client(self, **options: Any) -> Client:
        _, private = generate_keypair()
        http = httpx.Client(transport=httpx.MockTransport(self.handler))
        return Client("http://openleash.test", "agent-1", private, http_client=http, **options)

    def async_client(self, **options: Any) -> AsyncClient:
        _, private = generate_keypair()
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return AsyncClient("http://openleash.test", "agent-1", private, http_client=http, **options)


class FakeTime:
    """``monotonic`` and ``sleep`` that move together, recording each pause."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
