"""Decisions in the audit log: redaction of configured action fields, the admin filters, and a
chain that verifies after real traffic."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from openleash.config import Settings
from openleash.crypto import action_hash
from openleash.domain.action import parse_action
from openleash.service.audit_chain import verify_chain
from tests.api.conftest import Api, running_api
from tests.api.test_authorize import body

CARD = "4111111111111111"
REDACT = ("$.payload.card_number", "$.payload.travellers[*].passport")


@pytest.fixture
def redacting_api(tmp_path: Path) -> Iterator[Api]:
    yield from running_api(Settings(data_dir=tmp_path / "data", audit_redact=REDACT))


def _decisions(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get(
        "/v1/admin/audit", params={"event_type": "DECISION_CREATED", **params}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_configured_fields_are_redacted_before_they_are_stored(redacting_api: Api) -> None:
    api = redacting_api
    act = api.agent.action(
        amount_minor=500,
        currency="USD",
        card_number=CARD,
        travellers=[{"name": "Ada", "passport": "P-123"}, {"name": "Bob", "passport": "P-456"}],
    )

    decision = api.signed("POST", "/v1/authorize", body(act)).json()

    # The decision (and its proof) bind the action as sent; only the stored copy is redacted.
    assert decision["action_hash"] == action_hash(parse_action(act))
    (record,) = _decisions(api)
    payload = record["metadata_json"]["action"]["payload"]
    assert payload["card_number"] == "[REDACTED]"
    assert [t["passport"] for t in payload["travellers"]] == ["[REDACTED]", "[REDACTED]"]
    assert [t["name"] for t in payload["travellers"]] == ["Ada", "Bob"]
    assert payload["amount_minor"] == 500
    assert record["metadata_json"]["action_hash"] == decision["action_hash"]
    with closing(sqlite3.connect(api.data_dir / "openleash.db")) as conn:
        stored = " ".join(row[0] for row in conn.execute("SELECT metadata_json FROM audit_events"))
    assert CARD not in stored
    assert "P-123" not in stored


def test_nothing_is_redacted_by_default(api: Api) -> None:
    api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1, card_number=CARD)))

    (record,) = _decisions(api)

    assert record["metadata_json"]["action"]["payload"]["card_number"] == CARD


def test_admin_audit_filters_by_action_type_and_result(api: Api) -> None:
    small = api.agent.action(amount_minor=1)
    large = api.agent.action(amount_minor=50_000)
    other = api.agent.action()
    other["action_type"] = "communication.send"
    for act in (small, large, other):
        assert api.signed("POST", "/v1/authorize", body(act)).status_code == 200

    def ids(**params: str) -> list[str]:
        return [r["action_id"] for r in _decisions(api, **params)]

    assert ids() == [other["action_id"], large["action_id"], small["action_id"]]
    assert ids(result="ALLOW") == [small["action_id"]]
    assert ids(result="REQUIRE_APPROVAL") == [large["action_id"]]
    assert ids(action_type="purchase") == [large["action_id"], small["action_id"]]
    assert ids(action_type="purchase", result="DENY") == []
    assert ids(action_type="communication.send", result="DENY") == [other["action_id"]]
    page = api.client.get("/v1/admin/audit", params={"result": "ALLOW", "limit": "1"}).json()
    assert page["total"] == 1


def test_the_log_of_a_running_server_verifies(api: Api) -> None:
    for amount in (1, 2, 50_000):
        api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=amount)))

    report = api.run(verify_chain(api.services.store))

    assert report.ok, report.problem
    assert report.records >= 4  # set-up records, then the three decisions
    assert report.checkpoints_verified >= 1
