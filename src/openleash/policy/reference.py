"""The self-describing policy reference served at ``GET /v1/agents/policy-schema``.

Agents read it to write policy drafts their owner can approve, so it states the language's
exact behaviour, including the corners (strict equality, ``in``/``nin`` on non-lists).
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

from openleash.policy.model import ASSURANCE_LEVELS, DefaultEffect, Effect, Op

DESCRIPTION = (
    "OpenLeash policies are YAML documents. Each request an agent makes to act is checked "
    "against the rules in order; the first rule whose action pattern, `when` condition and "
    "`constraints` all hold decides. When none does, `default` decides."
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
    "(anchor with ^ and $). False for non-strings and for invalid patterns.",
    Op.EXISTS.value: "The path leads to a value that is not null. `value` is ignored.",
}

PATH_FORMAT = (
    "Paths start with `$.` and read the action request: `$.action_type`, "
    "`$.payload.amount_minor`, `$.relying_party.domain`, `$.principal.agent_id`. Use "
    "`.name` for keys and `[n]` for list items; `$.payload.items.length` is a list's length. "
    "Keys must start with a letter or `_`; other characters are skipped, so write "
    "`$.payload.merchant_domain`, never `$.payload.merchant-domain`."
)

CONSTRAINTS = {
    "amount_min": "payload.amount_minor must be a number >= this (inclusive).",
    "amount_max": "payload.amount_minor must be a number <= this (inclusive).",
    "currency": "payload.currency must be one of these strings (case-sensitive).",
    "merchant_domain": "payload.merchant_domain, else relying_party.domain, must be one of "
    "these (exact match).",
    "allowed_domains": "payload.domain, else relying_party.domain, must be one of these.",
    "blocked_domains": "payload.domain, else relying_party.domain, must not be one of these; "
    "a missing domain passes.",
}

OBLIGATIONS = {
    "format": "A list of {type, params?}; params become the obligation's details_json.",
    "HUMAN_APPROVAL": "The owner must approve: the result is REQUIRE_APPROVAL.",
    "STEP_UP_AUTH": "Stronger authentication is needed: REQUIRE_STEP_UP.",
    "DEPOSIT": "A deposit is needed: REQUIRE_DEPOSIT.",
    "precedence": "HUMAN_APPROVAL over STEP_UP_AUTH over DEPOSIT. Any other type (such as "
    "COUNTERPARTY_ATTESTATION) is reported but does not block: check the spelling.",
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

ACTION_TAXONOMY: dict[str, Any] = {
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

PLAYGROUND = {
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
    "testing": "Try a policy in the playground before proposing it.",
}


@functools.cache
def _schema_text() -> str:
    return resources.files("openleash.policy").joinpath("schema.json").read_text("utf-8")


def policy_json_schema() -> dict[str, Any]:
    """The published JSON Schema (draft-07) of the policy language."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


def policy_schema_document() -> dict[str, Any]:
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


def _reference() -> dict[str, Any]:
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
        }
    )
