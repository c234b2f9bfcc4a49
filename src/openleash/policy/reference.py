"""The self-describing policy reference served at ``GET /v1/agents/policy-schema``.

Agents read it to write policy drafts their owner can approve, so it states the language's
exact behaviour, including the corners (strict equality, ``in``/``nin`` on non-lists, windows
that wrap past midnight, limits that fall through to the next rule).
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import TypedDict

from openleash.domain.jsonvalue import JsonObject, JsonOut
from openleash.policy.model import (
    ASSURANCE_LEVELS,
    DAYS,
    LIMIT_BY,
    RISK_LEVELS,
    TRUST_LEVELS,
    DefaultEffect,
    Effect,
    Op,
)

DESCRIPTION = (
    "OpenLeash policies are YAML documents. Each request an agent makes to act is checked "
    "against the rules in order; the first rule whose action pattern, `when` condition, "
    "`constraints`, `schedule` and `limits` all hold decides. When none does, `default` decides."
)

EFFECTS = {
    Effect.ALLOW.value: "The action may proceed, unless the rule's obligations or requirements "
    "call for approval, step-up authentication or a deposit first.",
    Effect.DENY.value: "The action is refused.",
}

DEFAULTS = {
    DefaultEffect.ALLOW.value: "Allow actions no rule matched.",
    DefaultEffect.DENY.value: "Deny actions no rule matched (the safe choice).",
    DefaultEffect.REQUIRE_APPROVAL.value: "Ask the owner about actions no rule matched.",
    DefaultEffect.PASSTHROUGH.value: "Let the next, less specific policy layer decide; deny "
    "when there is none.",
}

ACTION_MATCHING = {
    "*": "Matches every action type.",
    "family.*": "Matches `family` itself and every type that starts with `family.`, "
    "e.g. `communication.*` matches `communication.send`.",
    "exact": "Any other pattern must equal the action type exactly (case-sensitive). A `*` in "
    "the middle is not a wildcard.",
}

OPERATORS = {
    Op.EQ.value: 'Strictly equal, without conversion: 1 is not "1", true is not 1; objects and '
    "lists never compare equal. A missing value equals only a missing `value`.",
    Op.NEQ.value: "Not strictly equal; true when the path is missing and `value` is given.",
    Op.IN.value: "The value at the path is one of the list `value`. False if `value` is not a "
    "list.",
    Op.NIN.value: "The value at the path is not in the list `value`. Also false if `value` is "
    "not a list.",
    Op.LT.value: "Less than; both sides must be numbers, otherwise false.",
    Op.LTE.value: "Less than or equal; numbers only.",
    Op.GT.value: "Greater than; numbers only.",
    Op.GTE.value: "Greater than or equal; numbers only.",
    Op.REGEX.value: "JavaScript regular expression, no flags, found anywhere in the string "
    "(anchor with ^ and $). False for non-strings and for invalid patterns. Runs in linear "
    "time: backreferences, lookahead and lookbehind are refused; at most 1000 characters.",
    Op.EXISTS.value: "The path leads to a value that is not null. `value` is ignored.",
}

PATH_FORMAT = (
    "Paths start with `$.` and read the action request: `$.action_type`, "
    "`$.payload.amount_minor`, `$.relying_party.domain`, `$.principal.agent_id`. Use "
    "`.name` for keys and `[n]` for list items; `$.payload.items.length` is a list's length. "
    "Keys must start with a letter or `_`; other characters are skipped, so write "
    "`$.payload.merchant_domain`, never `$.payload.merchant-domain`. `$.context...` reads "
    "what the server knows (see server_context), never anything the agent sent."
)

SERVER_CONTEXT = {
    "note": "Computed by the server for each request and readable in `when` as `$.context`. "
    "Anything an agent sends under `context` is discarded.",
    "$.context.now": "Server time, ISO-8601 UTC, e.g. 2026-03-29T08:15:00.000Z.",
    "$.context.risk": f"The action's risk level ({', '.join(RISK_LEVELS)}), see `risk`.",
    "$.context.counterparty.domain": "The counterparty: payload.merchant_domain, else "
    "payload.domain, else relying_party.domain (the first non-empty one), trimmed, "
    "lower-cased and without trailing dots; "
    "missing when there is none.",
    "$.context.counterparty.trust": f"The owner's trust in it ({', '.join(TRUST_LEVELS)}), "
    "see `counterparties`.",
    "$.context.counterparty.allowed_before": "How many earlier actions of this owner with "
    "this counterparty were allowed: 0 the first time.",
}

RISK = {
    "format": "A top-level list of {action, level, when?}: `action` is a pattern as in "
    f"rules, `level` one of {', '.join(RISK_LEVELS)} (in increasing order).",
    "meaning": "An action's risk is the highest level among the matching entries of all "
    "policy layers, `low` if none. Use it in `when` as `$.context.risk` or as "
    "`constraints.max_risk`. It is reported in the decision (`risk_level`) and the proof.",
    "when": "An entry's `when` may read the request and `$.context`, except `$.context.risk`.",
    "agent": "A risk level written by the agent into its request is ignored.",
}

COUNTERPARTIES = {
    "format": "A top-level list of {domain, trust}: `domain` is `shop.example` or `*.gov` "
    f"(every subdomain of gov, not gov itself); `trust` one of {', '.join(TRUST_LEVELS)} "
    "(in increasing order).",
    "precedence": "An exact domain beats a pattern, a longer pattern beats a shorter one, "
    "the more specific policy layer beats the less specific one. Listed nowhere: UNKNOWN. "
    "A domain may be listed once per policy; domains compare in lower case.",
    "agent": "relying_party.trust_profile, which the agent writes, never raises this trust.",
}

SCHEDULE = {
    "timezone": "IANA time zone name such as Europe/Stockholm (default UTC). The server "
    "clock decides, never the request's requested_at.",
    "days": f"Non-empty list of distinct days from {', '.join(DAYS)} (default every day).",
    "between": "[start, end] as HH:MM (00:00 to 23:59), end exclusive (default all day). "
    'When start > end the window wraps past midnight: ["22:00", "06:00"]. It then belongs '
    "to the day it starts on: with days [fri] it runs Friday 22:00 to Saturday 06:00. Start "
    "and end must differ; leave `between` out for all day.",
    "no_match": "Outside the schedule the rule does not match and evaluation goes on.",
}

LIMITS = {
    "format": "A list of limits, each with exactly one of `spend: MAX` (at most MAX minor "
    "units of payload.amount_minor, a number, 0 or more) or `count: MAX` (at most MAX "
    "actions, a whole number), and `window`, optional `per`, `by`, `timezone`.",
    "holds": "A limit holds when used + this <= MAX, counting this action: its amount_minor "
    "for spend (a missing amount: the limit does not hold; a negative, infinite or "
    "non-number one: the action is denied), 1 for count.",
    "used": "What the owner's actions allowed earlier in the window add up to, by any rule "
    "or default or through approval, among actions whose type matches the rule's `action`.",
    "window": "Rolling: `90s`, `15m`, `24h`, `7d` (units s, m, h, d; more than zero, at "
    "most 366d). Calendar: `day`, `week` (from Monday 00:00) or `month` (from the 1st), in "
    "the limit's `timezone` (IANA name, default UTC), right across daylight-saving changes.",
    "per": "`agent` (default): this agent's actions only; `owner`: all the owner's agents'.",
    "by": f"Any of {', '.join(LIMIT_BY)}: count separately for each value, e.g. `by: "
    "[currency]` keeps one budget per currency. Values count in one spelling (currency "
    "trimmed and upper-cased, counterparty lower-cased without trailing dots); an action "
    "without a usable value (no ISO 4217 currency, no host name, an action type not in lower "
    "case) is denied.",
    "no_match": "When a limit does not hold, the rule does not match and evaluation goes on "
    "to the next rule: put a rule asking the owner after a rule with limits, or rely on the "
    "default.",
    "response": "An ALLOW decided by a rule with limits lists each limit with what remains.",
}

CONSTRAINTS = {
    "amount_min": "payload.amount_minor must be a number >= this (inclusive). A negative, "
    "infinite or non-number amount denies the action.",
    "amount_max": "payload.amount_minor must be a number <= this (inclusive); same rule.",
    "currency": "ISO 4217 codes; payload.currency, trimmed and upper-cased, must be one of "
    "them. A currency with no such spelling denies the action.",
    "merchant_domain": "payload.merchant_domain, else relying_party.domain, must be one of "
    "these (domains compare trimmed, lower-cased, without trailing dots).",
    "allowed_domains": "payload.domain, else relying_party.domain, must be one of these.",
    "blocked_domains": "payload.domain, else relying_party.domain, must not be one of these; "
    "a missing domain passes.",
    "counterparty_trust": "The counterparty's trust (see counterparties) must be one of "
    f"these: {', '.join(TRUST_LEVELS)}.",
    "max_risk": f"The action's risk (see risk) must be at most this level: "
    f"{', '.join(RISK_LEVELS)}.",
}

OBLIGATIONS = {
    "format": "A list of {type, params?}; params become the obligation's details_json.",
    "HUMAN_APPROVAL": "The owner must approve: the result is REQUIRE_APPROVAL.",
    "STEP_UP_AUTH": "Stronger authentication is needed: REQUIRE_STEP_UP.",
    "DEPOSIT": "A deposit is needed: REQUIRE_DEPOSIT.",
    "COUNTERPARTY_ATTESTATION": "Reported with the decision; does not block.",
    "precedence": "HUMAN_APPROVAL over STEP_UP_AUTH over DEPOSIT. Any other type, or any "
    "key besides type and params, is a validation error.",
}

REQUIREMENTS = {
    "min_assurance_level": f"One of {', '.join(ASSURANCE_LEVELS)} (in increasing strength). "
    "Below it, a STEP_UP_AUTH obligation is added to the allow rule's obligations.",
    "credential_scheme": "Accepted for compatibility; not used in decisions.",
}

PROOF = {
    "required": "When true, an allowed action comes with a signed proof token the agent can "
    "show to the counterparty. Proofs are also issued when relying_party.trust_profile is "
    "HIGH or REGULATED.",
    "ttl_seconds": "Lifetime of that proof in seconds; must be greater than 0. The server's "
    "maximum still applies.",
}

ACTION_TAXONOMY: dict[str, JsonOut] = {
    "note": "Suggested action type names. Policies match whatever strings agents send, so "
    "agree on names with the owner; these are a starting point.",
    "categories": {
        "commerce": ["commerce.purchase", "commerce.subscription.start", "commerce.refund"],
        "scheduling": ["scheduling.appointment.book", "scheduling.appointment.cancel"],
        "communication": ["communication.send", "communication.email.send"],
        "government": ["government.submit_document", "government.form.file"],
        "finance": ["finance.transfer", "finance.invoice.pay"],
        "data": ["data.read", "data.export", "data.share", "data.delete"],
        "identity": ["identity.credential.present", "identity.account.create"],
        "system": ["system.command.run", "system.file.write"],
    },
}

EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "small purchases only",
        """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints:
      amount_max: 2500
      currency: [USD, EUR]
""",
    ),
    (
        "ask the owner above a limit",
        """\
version: 1
default: deny
rules:
  - id: everyday
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
    proof: { required: true, ttl_seconds: 300 }
  - id: big_ones
    effect: allow
    action: purchase
    constraints: { amount_min: 10001 }
    obligations:
      - type: HUMAN_APPROVAL
        params: { reason: Above the everyday limit }
""",
    ),
    (
        "conditions on the payload",
        """\
version: 1
default: require_approval
rules:
  - id: messages_to_known_domains
    effect: allow
    action: communication.*
    constraints:
      allowed_domains: [family.example, work.example]
  - id: trusted_bookings
    effect: allow
    action: appointment.book
    when:
      all:
        - match: { path: "$.payload.category", op: in, value: [hairdresser, dentist] }
        - match: { path: "$.payload.provider", op: regex, value: "\\\\.example$" }
    requirements: { min_assurance_level: SUBSTANTIAL }
""",
    ),
    (
        "a daily budget, then the owner's approval",
        """\
version: 1
default: deny
rules:
  - id: within_budget
    effect: allow
    action: purchase
    limits:
      - spend: 20000
        window: day
        timezone: Europe/Stockholm
  - id: over_budget_asks_owner
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
""",
    ),
    (
        "a rate limit for all of the owner's agents",
        """\
version: 1
default: deny
rules:
  - id: messages_rate_limited
    effect: allow
    action: communication.*
    limits:
      - count: 20
        window: 1h
        per: owner
""",
    ),
    (
        "business hours",
        """\
version: 1
default: require_approval
rules:
  - id: office_hours
    effect: allow
    action: scheduling.*
    schedule:
      timezone: America/New_York
      days: [mon, tue, wed, thu, fri]
      between: ["09:00", "17:00"]
""",
    ),
    (
        "a first purchase from a new shop needs the owner",
        """\
version: 1
default: deny
counterparties:
  - { domain: shop.example, trust: HIGH }
  - { domain: "*.gov", trust: REGULATED }
rules:
  - id: first_time_shop
    effect: allow
    action: purchase
    when: { match: { path: "$.context.counterparty.allowed_before", op: eq, value: 0 } }
    obligations: [{ type: HUMAN_APPROVAL }]
  - id: trusted_shops
    effect: allow
    action: purchase
    constraints:
      counterparty_trust: [MEDIUM, HIGH, REGULATED]
""",
    ),
    (
        "a weekly budget per currency, and risk classes",
        """\
version: 1
default: deny
risk:
  - { action: "finance.*", level: high }
  - action: purchase
    level: critical
    when: { match: { path: "$.payload.amount_minor", op: gt, value: 100000 } }
rules:
  - id: everyday_purchases
    effect: allow
    action: purchase
    constraints:
      max_risk: high
      currency: [USD, EUR]
    limits:
      - spend: 50000
        window: week
        by: [currency]
      - count: 30
        window: 24h
""",
    ),
    (
        "an agent layer that defers to the owner-wide policy",
        """\
version: 1
default: passthrough
rules:
  - id: never_delete_data
    effect: deny
    action: data.delete
""",
    ),
)

PLAYGROUND: dict[str, JsonOut] = {
    "endpoint": "POST /v1/playground/run",
    "body": "{policy_yaml, action}: a policy as text and an action request.",
    "action_fields": {
        "required": [
            "action_id (UUID)",
            "action_type",
            "requested_at (string)",
            "principal.agent_id",
            "subject.principal_id (UUID)",
            "payload (object)",
        ],
        "optional": ["relying_party {rp_id?, domain?, trust_profile?}"],
    },
    "response": "{action_hash, decision, debug: {trace}}: the decision as /v1/authorize would "
    "give it (without a proof token) and, for every rule, which parts matched.",
    "note": "Only the given policy is evaluated, never the owner's other layers.",
}

TIPS = {
    "order": "Put deny rules and narrow rules before broad allow rules: the first match wins.",
    "default": "Prefer `default: deny` and allow what is needed.",
    "numbers": "Amounts are in minor units (cents): 2500 is 25.00.",
    "strict_types": "Quote numbers you mean as strings and leave numbers unquoted: "
    '`value: "10"` never equals 10.',
    "constraints_select": "Constraints decide whether a rule applies, also on deny rules: a "
    "deny rule with `blocked_domains` applies to every domain *except* those listed.",
    "obligation_types": "Only HUMAN_APPROVAL, STEP_UP_AUTH and DEPOSIT block an action.",
    "limits_fall_through": "A rule whose limits are used up does not match: follow it with a "
    "rule that asks the owner, so that over-budget actions are not simply denied.",
    "testing": "Try a policy in the playground before proposing it.",
}


class Example(TypedDict):
    name: str
    policy_yaml: str


class PolicySchemaDocument(TypedDict):
    """The body of ``GET /v1/agents/policy-schema``."""

    description: str
    json_schema: JsonObject
    reference: dict[str, JsonOut]
    action_taxonomy: dict[str, JsonOut]
    examples: list[Example]
    playground: dict[str, JsonOut]
    tips: dict[str, str]


@functools.cache
def _schema_text() -> str:
    return resources.files("openleash.policy").joinpath("schema.json").read_text("utf-8")


def policy_json_schema() -> JsonObject:
    """The published JSON Schema (draft-07) of the policy language."""
    schema: JsonObject = json.loads(_schema_text())
    return schema


def policy_schema_document() -> PolicySchemaDocument:
    """The body of ``GET /v1/agents/policy-schema``; a fresh copy each call."""
    return {
        "description": DESCRIPTION,
        "json_schema": policy_json_schema(),
        "reference": _reference(),
        "action_taxonomy": copy.deepcopy(ACTION_TAXONOMY),
        "examples": [{"name": name, "policy_yaml": text} for name, text in EXAMPLES],
        "playground": copy.deepcopy(PLAYGROUND),
        "tips": dict(TIPS),
    }


def _reference() -> dict[str, JsonOut]:
    return copy.deepcopy(
        {
            "effects": EFFECTS,
            "defaults": DEFAULTS,
            "action_matching": ACTION_MATCHING,
            "when_expressions": {
                "forms": {
                    "all": "Every listed expression holds (an empty list holds).",
                    "any": "At least one holds (an empty list does not).",
                    "not": "The expression does not hold.",
                    "match": "{path, op, value}: compare the value at path.",
                },
                "operators": OPERATORS,
                "path_format": PATH_FORMAT,
            },
            "constraints": CONSTRAINTS,
            "obligations": OBLIGATIONS,
            "requirements": REQUIREMENTS,
            "proof": PROOF,
            "schedule": SCHEDULE,
            "limits": LIMITS,
            "risk": RISK,
            "counterparties": COUNTERPARTIES,
            "server_context": SERVER_CONTEXT,
        }
    )
