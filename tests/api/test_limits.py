"""Budgets, rate limits, schedules and counterparty trust through the HTTP API, with the
server clock injected (never the agent's ``requested_at``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from openleash.crypto import verify_token
from tests.api.conftest import Api, upsert


def body(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def only_policy(api: Api, yaml_text: str) -> None:
    for policy in api.client.get("/v1/admin/policies").json()["policies"]:
        api.run(api.services.policies.delete(policy["policy_id"]))
    api.run(upsert(api.services, api.agent.owner_id, yaml_text))


def buy(api: Api, amount: Any, **extra: Any) -> dict[str, Any]:
    response = api.signed(
        "POST", "/v1/authorize", body(api.agent.action(amount_minor=amount, **extra))
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


ROLLING = """\
version: 1
default: deny
rules:
  - id: budget
    effect: allow
    action: purchase
    proof: { required: true }
    limits:
      - spend: 300
        window: 90s
      - count: 10
        window: 1h
  - id: over_budget_asks_owner
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""


def test_rolling_window_rolls_with_the_server_clock(api: Api) -> None:
    only_policy(api, ROLLING)
    assert [buy(api, 100)["result"] for _ in range(3)] == ["ALLOW"] * 3
    over = buy(api, 100)
    assert over["result"] == "REQUIRE_APPROVAL"  # falls through to the next rule
    assert over["matched_rule_id"] == "over_budget_asks_owner"
    assert "budget: 300 of 300 used" in over["explanation"]
    api.clock.advance(89)
    assert buy(api, 100)["result"] == "REQUIRE_APPROVAL"
    api.clock.advance(2)
    assert buy(api, 100)["result"] == "ALLOW"


def test_allow_under_limits_reports_what_remains(api: Api) -> None:
    only_policy(api, ROLLING)
    buy(api, 120)
    decision = buy(api, 80)
    assert decision["result"] == "ALLOW"
    by_kind = {limit["kind"]: limit for limit in decision["limits"]}
    assert by_kind["spend"]["used"] == 120
    assert by_kind["spend"]["this"] == 80
    assert by_kind["spend"]["remaining"] == 100
    assert by_kind["count"]["remaining"] == 8
    keyring = api.run(api.services.runtime.snapshot()).keyring
    claims = verify_token(decision["proof_token"], keyring, now=api.clock(), purpose="proof")
    assert len(claims["policy_hash"]) == 64
    usage = api.signed("GET", "/v1/agent/usage").json()
    spend = next(lim for lim in usage["limits"] if lim["kind"] == "spend")
    assert spend["usage"] == [{"by": {}, "used": 200, "count": 2, "remaining": 100}]
    assert usage["policy_hash"] == claims["policy_hash"]


def test_trace_shows_schedule_and_limits(api: Api) -> None:
    only_policy(api, ROLLING)
    buy(api, 250)
    decision_id = buy(api, 100)["decision_id"]
    page = api.client.get("/v1/admin/audit", params={"event_type": "DECISION_CREATED"}).json()
    event = next(e for e in page["items"] if e["decision_id"] == decision_id)
    budget = event["metadata_json"]["trace"]["rules"][0]
    assert budget["limits_match"] is False
    assert budget["schedule_match"] is True
    spend = budget["limits"][0]
    assert (spend["used"], spend["this"], spend["max"], spend["window"]) == (250, 100, 300, "90s")


def test_requested_at_is_never_trusted(api: Api) -> None:
    only_policy(api, ROLLING)
    for _ in range(3):
        buy(api, 100)
    act = api.agent.action(amount_minor=100)
    act["requested_at"] = "2000-01-01T00:00:00.000Z"  # claims to be long ago
    decision = api.signed("POST", "/v1/authorize", body(act)).json()
    assert decision["result"] == "REQUIRE_APPROVAL"


CALENDAR = """\
version: 1
default: deny
rules:
  - id: daily
    effect: allow
    action: purchase
    limits:
      - spend: 100
        window: day
        timezone: Europe/Stockholm
"""


def test_calendar_day_starts_at_local_midnight(api: Api) -> None:
    only_policy(api, CALENDAR)
    api.clock.set(datetime(2026, 7, 1, 21, 30, tzinfo=UTC))  # 23:30 in Stockholm (CEST)
    assert buy(api, 100)["result"] == "ALLOW"
    assert buy(api, 1)["result"] == "DENY"
    api.clock.advance(31 * 60)  # 00:01 local, 22:01 UTC: a new local day
    assert buy(api, 100)["result"] == "ALLOW"


def test_calendar_day_across_the_autumn_clock_change(api: Api) -> None:
    only_policy(api, CALENDAR)
    # 2026-10-25: clocks go back at 03:00 CEST -> 02:00 CET; the local day lasts 25 hours.
    api.clock.set(datetime(2026, 10, 24, 22, 30, tzinfo=UTC))  # 00:30 CEST on the 25th
    assert buy(api, 100)["result"] == "ALLOW"
    api.clock.set(datetime(2026, 10, 25, 22, 59, tzinfo=UTC))  # 23:59 CET, same local day
    assert buy(api, 1)["result"] == "DENY"
    api.clock.set(datetime(2026, 10, 25, 23, 0, tzinfo=UTC))  # 00:00 CET on the 26th
    assert buy(api, 100)["result"] == "ALLOW"


PER_CURRENCY = """\
version: 1
default: deny
rules:
  - id: per_currency
    effect: allow
    action: purchase
    limits:
      - spend: 100
        window: 24h
        by: [currency]
"""


def test_budgets_per_currency_are_separate(api: Api) -> None:
    only_policy(api, PER_CURRENCY)
    assert buy(api, 100, currency="USD")["result"] == "ALLOW"
    assert buy(api, 100, currency="EUR")["result"] == "ALLOW"
    assert buy(api, 1, currency="USD")["result"] == "DENY"
    usage = api.signed("GET", "/v1/agent/usage").json()
    rows = {row["by"]["currency"]: row["used"] for row in usage["limits"][0]["usage"]}
    assert rows == {"USD": 100, "EUR": 100}


SCHEDULE = """\
version: 1
default: deny
rules:
  - id: business_hours
    effect: allow
    action: purchase
    schedule:
      timezone: Europe/Stockholm
      days: [mon, tue, wed, thu, fri]
      between: ["08:00", "18:00"]
"""


def test_schedule_follows_the_server_clock(api: Api) -> None:
    only_policy(api, SCHEDULE)
    api.clock.set(datetime(2026, 12, 2, 7, 59, tzinfo=UTC))  # Wednesday 08:59 CET
    assert buy(api, 1)["result"] == "ALLOW"
    api.clock.set(datetime(2026, 12, 2, 17, 0, tzinfo=UTC))  # 18:00 CET: end is exclusive
    assert buy(api, 1)["result"] == "DENY"
    api.clock.set(datetime(2026, 12, 5, 10, 0, tzinfo=UTC))  # Saturday
    assert buy(api, 1)["result"] == "DENY"


TRUST = """\
version: 1
default: deny
counterparties:
  - domain: shop.example
    trust: HIGH
  - domain: "*.gov"
    trust: REGULATED
rules:
  - id: first_time_shop
    effect: allow
    action: purchase
    when: { match: { path: "$.context.counterparty.allowed_before", op: eq, value: 0 } }
    constraints: { counterparty_trust: [LOW, UNKNOWN] }
    obligations: [{ type: HUMAN_APPROVAL }]
  - id: trusted_shops
    effect: allow
    action: purchase
    constraints: { counterparty_trust: [HIGH, REGULATED] }
"""


def test_counterparty_trust_is_the_owners_not_the_agents(api: Api) -> None:
    only_policy(api, TRUST)
    trusted = buy(api, 1, merchant_domain="SHOP.example")
    assert trusted["result"] == "ALLOW"
    assert buy(api, 1, merchant_domain="tax.gov")["result"] == "ALLOW"
    act = api.agent.action(amount_minor=1, merchant_domain="new.example")
    act["relying_party"] = {"domain": "new.example", "trust_profile": "REGULATED"}
    decision = api.signed("POST", "/v1/authorize", body(act)).json()
    assert decision["result"] == "REQUIRE_APPROVAL"
    assert decision["matched_rule_id"] == "first_time_shop"
