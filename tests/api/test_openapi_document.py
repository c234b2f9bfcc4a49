"""What the whole OpenAPI document promises a client: an operationId for each operation that
makes a good method name (unique, stable), and the statuses each operation can really answer,
no fewer and no more (431 everywhere; the browser guard's 421 and 403 and the throttles' 429
only where they apply)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openleash.api.app import create_app
from openleash.api.wire.common import check_unique_operation_ids
from openleash.config import Settings
from tests.api.conftest import Api

_APP = create_app(Settings(data_dir=Path("/nonexistent-openapi-document")))
DOCUMENT: dict[str, Any] = _APP.openapi()
OPERATIONS = {
    (method.upper(), path): op
    for path, item in DOCUMENT["paths"].items()
    for method, op in item.items()
}

#: Ids a generated client's methods are named by: these must not change by accident.
EXPECTED_IDS = {
    ("POST", "/v1/authorize"): "authorize",
    ("GET", "/v1/health"): "health",
    ("POST", "/v1/verify-proof"): "verify_proof",
    ("POST", "/v1/owner/login"): "login",
    ("POST", "/v1/owner/approval-requests/{approval_request_id}/approve"): "approve",
    ("POST", "/v1/owner/approval-requests/{approval_request_id}/deny"): "deny",
    ("POST", "/v1/agent/approval-requests"): "create_approval_request",
    ("GET", "/v1/agent/approval-requests/{approval_request_id}"): "get_approval_request",
    # names two routers share get their tag, unless they start with it
    ("GET", "/v1/owner/agents"): "owner_list_agents",
    ("GET", "/v1/admin/agents"): "admin_list_agents",
    ("GET", "/v1/agent/usage"): "agent_usage",
    ("GET", "/v1/owner/agents/{agent_principal_id}/usage"): "owner_agent_usage",
    ("GET", "/v1/admin/agents/{agent_principal_id}/usage"): "admin_agent_usage",
    ("GET", "/v1/owner/audit"): "owner_audit",
    ("GET", "/v1/admin/audit"): "admin_audit",
}


def test_operation_ids_are_unique_identifiers() -> None:
    ids = [op["operationId"] for op in OPERATIONS.values()]
    assert len(ids) == len(set(ids))
    assert all(i.isidentifier() and i == i.lower() for i in ids), ids
    assert not [i for i in ids if "_v1_" in i or i.endswith(("_get", "_post"))], (
        "no framework-made ids (name, path and method)"
    )


def test_the_expected_operation_ids() -> None:
    assert {key: OPERATIONS[key]["operationId"] for key in EXPECTED_IDS} == EXPECTED_IDS


def test_a_repeated_operation_id_is_refused() -> None:
    document = {
        "paths": {
            "/a": {"get": {"operationId": "same"}},
            "/b": {"post": {"operationId": "same"}},
        }
    }
    with pytest.raises(RuntimeError, match="'same' of POST /b is also the id of GET /a"):
        check_unique_operation_ids(document)


def _statuses(method: str, path: str) -> set[int]:
    return {int(status) for status in OPERATIONS[(method, path)]["responses"]}


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=" ".join)
def test_every_operation_documents_a_head_too_large_and_a_fault(key: tuple[str, str]) -> None:
    assert {431, 500} <= _statuses(*key)


def test_the_guard_and_the_throttles_are_documented_where_they_apply() -> None:
    # health is not guarded, not throttled and needs no credentials
    assert _statuses("GET", "/v1/health") == {200, 431, 500, 503}
    # static documents read no store
    for key in (
        ("GET", "/v1/agents/policy-schema"),
        ("GET", "/.well-known/authzen-configuration"),
        ("GET", "/v1/agents/register-with-invite"),
    ):
        assert 503 not in _statuses(*key), key
    # the browser guard: every admin request, owner changes; never agents or the public
    for key in OPERATIONS:
        guarded = key[1].startswith("/v1/admin/") or key[1] == "/metrics"
        guarded |= key[1].startswith("/v1/owner/") and key[0] != "GET"
        assert (421 in _statuses(*key)) is guarded, key
    # the anonymous budget and the failed-authentication budget of the address
    for key in OPERATIONS:
        throttled = key[1].startswith(("/v1/agent/", "/access/v1/")) or key in {
            ("POST", "/v1/authorize"),
            ("POST", "/v1/verify-proof"),
            ("POST", "/v1/playground/run"),
            ("POST", "/v1/agents/registration-challenge"),
            ("POST", "/v1/agents/register"),
            ("POST", "/v1/agents/register-with-invite"),
        }
        if key[1].startswith("/v1/owner/"):
            continue  # login, set-up and the second-factor lock: tests/api/test_openapi_owner.py
        assert (429 in _statuses(*key)) is throttled, key


def test_what_the_guard_refuses_is_documented_and_what_it_lets_by_is_not(api: Api) -> None:
    foreign = {"Host": "rebound.example"}
    refused = api.client.get("/v1/admin/users", headers=foreign)
    assert refused.status_code == 421
    assert refused.status_code in _statuses("GET", "/v1/admin/users")
    # health does not look at the Host: the document does not say it may answer 421
    assert api.client.get("/v1/health", headers=foreign).status_code == 200
    cross_site = {"Origin": "https://page.example", "Sec-Fetch-Site": "cross-site"}
    assert api.client.get("/v1/health", headers=cross_site).status_code == 200
    assert 403 not in _statuses("GET", "/v1/health")
