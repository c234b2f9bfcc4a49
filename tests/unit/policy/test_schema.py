"""The published JSON Schema accepts what the parser accepts; the reference document."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import available_timezones

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openleash.domain.errors import PolicyError
from openleash.policy import parse_policy, parse_policy_data, policy_json_schema
from openleash.policy import parser as p
from openleash.policy.limits import LIMIT_KEYS
from openleash.policy.model import DAYS, LIMIT_BY, RISK_LEVELS, TRUST_LEVELS
from openleash.policy.reference import policy_schema_document
from openleash.policy.risk import RISK_KEYS
from openleash.policy.schedule import SCHEDULE_KEYS
from openleash.policy.trust import COUNTERPARTY_KEYS
from openleash.policy.windows import MAX_WINDOW_SECONDS, UNIT_SECONDS

SCHEMA = policy_json_schema()


def schema_accepts(data: Any) -> bool:
    return _valid(data, SCHEMA)


def _valid(data: Any, schema: dict[str, Any]) -> bool:
    """Just enough of draft-07 for our schema: the keywords it uses, nothing else."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        return _valid(data, SCHEMA["definitions"][name])
    checks = [
        _type_ok(data, schema.get("type")),
        "enum" not in schema or any(_same(data, e) for e in schema["enum"]),
        "oneOf" not in schema or sum(_valid(data, s) for s in schema["oneOf"]) == 1,
    ]
    if not all(checks):
        return False
    if isinstance(data, dict):
        return _object_ok(data, schema)
    if isinstance(data, list):
        return _array_ok(data, schema)
    if isinstance(data, str) and "pattern" in schema:
        return re.search(schema["pattern"], data) is not None
    if _is_number(data) and "exclusiveMinimum" in schema:
        return bool(data > schema["exclusiveMinimum"])
    if _is_number(data) and "minimum" in schema:
        return bool(data >= schema["minimum"])
    return True


def _array_ok(data: list[Any], schema: dict[str, Any]) -> bool:
    if not schema.get("minItems", 0) <= len(data) <= schema.get("maxItems", len(data)):
        return False
    if schema.get("uniqueItems") and any(
        _same(a, b) for i, a in enumerate(data) for b in data[i + 1 :]
    ):
        return False
    return "items" not in schema or all(_valid(item, schema["items"]) for item in data)


def _object_ok(data: dict[str, Any], schema: dict[str, Any]) -> bool:
    props = schema.get("properties", {})
    if any(key not in data for key in schema.get("required", [])):
        return False
    if schema.get("additionalProperties") is False and any(key not in props for key in data):
        return False
    return all(_valid(data[key], sub) for key, sub in props.items() if key in data)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _same(a: Any, b: Any) -> bool:
    # Deep equality as JSON Schema means it: true is not 1.
    return (type(a) is bool) == (type(b) is bool) and bool(a == b)


def _type_ok(data: Any, kind: str | None) -> bool:
    match kind:
        case None:
            return True
        case "object":
            return isinstance(data, dict)
        case "array":
            return isinstance(data, list)
        case "string":
            return isinstance(data, str)
        case "number":
            return _is_number(data)
        case "integer":
            return _is_number(data) and float(data).is_integer()
        case "boolean":
            return isinstance(data, bool)
    raise AssertionError(kind)


def refinements_hold(data: dict[str, Any]) -> bool:
    """What the parser checks beyond the schema, on data the schema accepts."""
    rules = data["rules"]
    schedules = [r["schedule"] for r in rules if "schedule" in r]
    limits = [limit for r in rules for limit in r.get("limits", [])]
    zones = [s["timezone"] for s in schedules + limits if "timezone" in s]
    domains = [c["domain"].lower() for c in data.get("counterparties", [])]
    return (
        all(zone in available_timezones() for zone in zones)
        and all(_window_seconds(limit["window"]) <= MAX_WINDOW_SECONDS for limit in limits)
        and all(len(set(s["between"])) == 2 for s in schedules if "between" in s)
        and len(set(domains)) == len(domains)
    )


def _window_seconds(window: str) -> int:
    if window in ("day", "week", "month"):
        return 0
    return int(window[:-1]) * UNIT_SECONDS[window[-1]]


def parser_accepts(data: Any) -> bool:
    try:
        parse_policy_data(data)
    except PolicyError:
        return False
    return True


def test_schema_names_the_keys_the_parser_knows() -> None:
    defs = SCHEMA["definitions"]
    assert tuple(SCHEMA["properties"]) == p.TOP_KEYS
    assert tuple(defs["rule"]["properties"]) == p.RULE_KEYS
    assert tuple(defs["rule"]["required"]) == p.RULE_REQUIRED
    assert tuple(defs["constraints"]["properties"]) == (
        p.CONSTRAINT_NUMBERS + p.CONSTRAINT_LISTS + p.CONSTRAINT_CONTEXT
    )
    assert tuple(defs["schedule"]["properties"]) == SCHEDULE_KEYS
    assert tuple(defs["limit"]["properties"]) == LIMIT_KEYS
    assert tuple(defs["risk_entry"]["properties"]) == RISK_KEYS
    assert tuple(defs["counterparty"]["properties"]) == COUNTERPARTY_KEYS
    assert tuple(defs["risk_level"]["enum"]) == RISK_LEVELS
    assert tuple(defs["trust"]["enum"]) == TRUST_LEVELS
    assert tuple(defs["schedule"]["properties"]["days"]["items"]["enum"]) == DAYS
    assert tuple(defs["limit"]["properties"]["by"]["items"]["enum"]) == LIMIT_BY
    assert tuple(defs["requirements"]["properties"]) == p.REQUIREMENT_KEYS
    assert tuple(defs["proof"]["properties"]) == p.PROOF_KEYS
    assert tuple(defs["match"]["properties"]) == p.MATCH_KEYS
    assert [next(iter(form["properties"])) for form in defs["expr"]["oneOf"]] == list(p.EXPR_KEYS)


SCALARS = st.sampled_from(
    [
        1,
        0,
        -1,
        0.5,
        True,
        False,
        None,
        "",
        "x",
        "allow",
        "deny",
        "passthrough",
        "require_approval",
        "$.a",
        "$.",
        "a",
        "eq",
        "in",
        "regex",
        "exists",
        "LOW",
        "HIGH",
        "SUBSTANTIAL",
        "*",
    ]
)


def mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly valid values, so that acceptance is exercised as much as refusal."""
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda ok: valid if ok else odd)


def _expr(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    match_body = st.fixed_dictionaries(
        {
            "path": mostly(st.sampled_from(["$.a", "$.payload.x"]), st.sampled_from(["a", 3])),
            "op": mostly(st.sampled_from(["eq", "in", "regex", "exists"]), st.just("like")),
        },
        optional={"value": SCALARS},
    )
    return mostly(
        st.one_of(
            st.fixed_dictionaries({"match": match_body}),
            st.fixed_dictionaries({"all": st.lists(children, max_size=2)}),
            st.fixed_dictionaries({"any": st.lists(children, max_size=2)}),
            st.fixed_dictionaries({"not": children}),
        ),
        st.one_of(
            st.dictionaries(st.sampled_from(["all", "not", "match", "x"]), children, max_size=2),
            st.fixed_dictionaries({"match": match_body}, optional={"flags": SCALARS}),
            SCALARS,
        ),
    )


EXPRS = st.recursive(
    st.fixed_dictionaries(
        {"match": st.fixed_dictionaries({"path": st.just("$.a"), "op": st.just("exists")})}
    ),
    _expr,
    max_leaves=6,
)
NUMBER = mostly(st.sampled_from([0, 1, 2.5, -3, 10_000]), SCALARS)
STRINGS = mostly(
    st.lists(st.sampled_from(["USD", "a.example"]), max_size=2),
    st.lists(SCALARS, max_size=2) | SCALARS,
)
TIMEZONE = mostly(
    st.sampled_from(["UTC", "Europe/Stockholm", "America/New_York"]),
    st.sampled_from(["Mars/Olympus", "utc", 5]),
)
WINDOW = mostly(
    st.sampled_from(["90s", "15m", "24h", "7d", "366d", "01h", "day", "week", "month"]),
    st.sampled_from(["0s", "5w", "367d", "1.5h", "5", "", "Day", 3]),
)
SCHEDULE = mostly(
    st.fixed_dictionaries(
        {},
        optional={
            "timezone": TIMEZONE,
            "days": mostly(
                st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True),
                st.lists(st.sampled_from(["mon", "funday"]), max_size=2) | SCALARS,
            ),
            "between": mostly(
                st.sampled_from([["08:00", "18:00"], ["22:00", "06:00"], ["00:00", "23:59"]]),
                st.sampled_from([["08:00", "08:00"], ["8:00", "18:00"], ["24:00", "01:00"]])
                | st.lists(SCALARS, max_size=3),
            ),
        },
    ),
    st.fixed_dictionaries({"hours": SCALARS}) | SCALARS,
)
LIMIT_OPTIONS = {
    "per": mostly(st.sampled_from(["agent", "owner"]), SCALARS),
    "by": mostly(
        st.lists(st.sampled_from(LIMIT_BY), max_size=3, unique=True),
        st.lists(st.sampled_from(["currency", "merchant"]), max_size=3) | SCALARS,
    ),
    "timezone": TIMEZONE,
}
SPEND = mostly(st.sampled_from([0, 1, 2.5, 50_000]), st.sampled_from([-1, True, "5", None]))
COUNT = mostly(st.sampled_from([0, 1, 30, 2.0]), st.sampled_from([2.5, -1, True, "3"]))
LIMIT = mostly(
    st.fixed_dictionaries({"spend": SPEND, "window": WINDOW}, optional=LIMIT_OPTIONS)
    | st.fixed_dictionaries({"count": COUNT, "window": WINDOW}, optional=LIMIT_OPTIONS),
    st.fixed_dictionaries(
        {}, optional={"spend": SPEND, "count": COUNT, "window": WINDOW, "max": SCALARS}
    )
    | SCALARS,
)
RISK = mostly(
    st.lists(
        st.fixed_dictionaries(
            {
                "action": mostly(st.sampled_from(["x", "*", "a.*"]), SCALARS),
                "level": mostly(st.sampled_from(RISK_LEVELS), st.sampled_from(["HIGH", 2])),
            },
            optional={"when": EXPRS},
        ),
        max_size=2,
    ),
    st.lists(st.fixed_dictionaries({}, optional={"level": SCALARS}), max_size=1) | SCALARS,
)
COUNTERPARTIES = mostly(
    st.lists(
        st.fixed_dictionaries(
            {
                "domain": mostly(
                    st.sampled_from(["shop.example", "Shop.Example", "*.gov", "a-b.c", "gov"]),
                    st.sampled_from(["*", "*.", "a..b", "-a.example", "a.example:443", "", 5]),
                ),
                "trust": mostly(st.sampled_from(TRUST_LEVELS), st.sampled_from(["high", 1])),
            }
        ),
        max_size=3,
    ),
    st.lists(st.fixed_dictionaries({}, optional={"domain": SCALARS}), max_size=1) | SCALARS,
)
OPTIONAL_RULE_PARTS = {
    "description": mostly(st.just("text"), SCALARS),
    "when": EXPRS,
    "constraints": mostly(
        st.fixed_dictionaries(
            {},
            optional={
                "amount_max": NUMBER,
                "amount_min": NUMBER,
                "currency": STRINGS,
                "merchant_domain": STRINGS,
                "allowed_domains": STRINGS,
                "blocked_domains": STRINGS,
                "counterparty_trust": mostly(
                    st.lists(st.sampled_from(TRUST_LEVELS), max_size=2),
                    st.lists(SCALARS, max_size=2) | SCALARS,
                ),
                "max_risk": mostly(st.sampled_from(RISK_LEVELS), SCALARS),
            },
        ),
        st.fixed_dictionaries({"amount_mx": NUMBER}) | SCALARS,
    ),
    "requirements": st.fixed_dictionaries(
        {},
        optional={
            "min_assurance_level": mostly(st.sampled_from(["LOW", "SUBSTANTIAL", "HIGH"]), SCALARS),
            "credential_scheme": mostly(st.just("x"), SCALARS),
        },
    )
    | st.fixed_dictionaries({"other": SCALARS}),
    "obligations": mostly(
        st.lists(
            st.fixed_dictionaries(
                {"type": mostly(st.sampled_from(["HUMAN_APPROVAL", "X"]), SCALARS)},
                optional={
                    "params": mostly(
                        st.dictionaries(st.text(max_size=2), SCALARS, max_size=2), SCALARS
                    ),
                    "anything": SCALARS,
                },
            ),
            max_size=2,
        ),
        st.lists(st.fixed_dictionaries({}, optional={"params": SCALARS}) | SCALARS, max_size=2)
        | SCALARS,
    ),
    "proof": mostly(
        st.fixed_dictionaries(
            {},
            optional={"required": mostly(st.booleans(), SCALARS), "ttl_seconds": NUMBER},
        ),
        st.fixed_dictionaries({"ttl": SCALARS}) | SCALARS,
    ),
    "schedule": SCHEDULE,
    "limits": mostly(st.lists(LIMIT, max_size=2), SCALARS),
}
VALID_RULE = st.fixed_dictionaries(
    {
        "id": mostly(st.sampled_from(["r", ""]), SCALARS),
        "effect": mostly(st.sampled_from(["allow", "deny"]), st.sampled_from(["permit", 1])),
        "action": mostly(st.sampled_from(["x", "*", "a.*"]), SCALARS),
    },
    optional=OPTIONAL_RULE_PARTS,
)
ODD_RULE = (
    st.fixed_dictionaries(
        {}, optional={"id": SCALARS, "effect": SCALARS, "action": SCALARS, "priority": SCALARS}
    )
    | SCALARS
)
RULES = mostly(VALID_RULE, ODD_RULE)
POLICIES = mostly(
    st.fixed_dictionaries(
        {
            "version": mostly(st.sampled_from([1, 1.0]), st.sampled_from([2, True, "1"])),
            "default": mostly(
                st.sampled_from(["allow", "deny", "passthrough", "require_approval"]),
                st.just("no"),
            ),
            "rules": mostly(st.lists(RULES, max_size=3), SCALARS),
        },
        optional={"risk": RISK, "counterparties": COUNTERPARTIES},
    ),
    st.fixed_dictionaries(
        {}, optional={"version": SCALARS, "default": SCALARS, "rules": SCALARS, "name": SCALARS}
    ),
)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(POLICIES)
def test_parser_and_schema_agree(data: Any) -> None:
    assert parser_accepts(data) == (schema_accepts(data) and refinements_hold(data))


def test_agreement_covers_acceptance_too() -> None:
    data: dict[str, Any] = {
        "version": 1,
        "default": "deny",
        "rules": [{"id": "r", "effect": "allow", "action": "x", "proof": {"ttl_seconds": 1}}],
    }
    assert parser_accepts(data)
    assert schema_accepts(data)
    data["rules"][0]["proof"] = {"ttl_seconds": 0}
    assert not parser_accepts(data)
    assert not schema_accepts(data)


def test_reference_document_shape() -> None:
    document = policy_schema_document()
    assert list(document) == [
        "description",
        "json_schema",
        "reference",
        "action_taxonomy",
        "examples",
        "playground",
        "tips",
    ]
    assert set(document["reference"]) == {
        "effects",
        "defaults",
        "action_matching",
        "when_expressions",
        "constraints",
        "obligations",
        "requirements",
        "proof",
        "schedule",
        "limits",
        "risk",
        "counterparties",
        "server_context",
    }
    assert set(document["reference"]["when_expressions"]) >= {"operators", "path_format"}
    assert set(document["reference"]["when_expressions"]["operators"]) == {
        "eq",
        "neq",
        "in",
        "nin",
        "lt",
        "lte",
        "gt",
        "gte",
        "regex",
        "exists",
    }
    assert document["json_schema"] == SCHEMA


def test_every_example_policy_parses() -> None:
    examples = policy_schema_document()["examples"]
    assert len(examples) >= 3
    for example in examples:
        policy = parse_policy(example["policy_yaml"])
        assert not policy.warnings, example["name"]


def test_reference_document_is_a_fresh_copy() -> None:
    first = policy_schema_document()
    first["json_schema"]["title"] = "changed"
    first["reference"]["effects"]["allow"] = "changed"
    second = policy_schema_document()
    assert second["json_schema"]["title"] != "changed"
    assert second["reference"]["effects"]["allow"] != "changed"
