"""Operating a server: readiness that checks the store, Prometheus metrics for admins."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.api.conftest import Api
from tests.api.test_admin_access import TOKEN, client_for


def test_health_reports_the_store(api: Api) -> None:
    body = api.client.get("/v1/health").json()
    assert body["status"] == "ok"
    assert body["store"] == "ok"


def test_health_is_503_when_the_store_does_not_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> int:
        raise OSError("disk gone")

    monkeypatch.setattr(api.services.store, "revision", broken)
    response = api.client.get("/v1/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["store"] == "unavailable"


def _decisions(text: str, result: str) -> float:
    pattern = rf'^openleash_decisions_total{{result="{result}",via_approval="False"}} (\S+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_decisions_and_time_them(api: Api) -> None:
    before = api.client.get("/metrics").text
    for amount in (100, 200, 50_000):
        body = json.dumps(api.agent.action(amount_minor=amount, currency="EUR")).encode()
        assert api.signed("POST", "/v1/authorize", body).status_code == 200
    refused = api.signed("POST", "/v1/authorize", b"{}")
    assert refused.status_code == 400
    after = api.client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert _decisions(text, "ALLOW") == _decisions(before, "ALLOW") + 2
    assert _decisions(text, "REQUIRE_APPROVAL") == _decisions(before, "REQUIRE_APPROVAL") + 1
    assert 'openleash_authorize_refusals_total{code="INVALID_ACTION_REQUEST"}' in text
    assert "openleash_authorize_seconds_bucket" in text
    assert "openleash_store_errors_total" in text


def test_metrics_need_admin_access(tmp_path: Path) -> None:
    for client in client_for(tmp_path, "localhost_or_token", "203.0.113.7"):
        assert client.get("/metrics").status_code == 401
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
