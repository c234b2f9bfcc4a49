"""The policy language: parse, validate, layer and evaluate. Pure: no I/O, no clock.

Text goes through three separate steps, each in its own module: ``syntax`` (YAML 1.2 to plain
data with lines), ``parser`` (plain data to a typed, validated :class:`Policy`) and
``evaluate`` (a policy and an action to an :class:`Evaluation`). ``layers`` builds the one
effective policy from an owner's bindings.

Stateful conditions stay pure too. For each request the server calls
:func:`usage_queries` and answers them from its record of allowed actions, builds the
``$.context`` values with :func:`build_server_context` (``counterparty_of`` names whom to count
``allowed_before`` for), then calls :func:`evaluate` with both in the :class:`EvalContext`, and
records an allowed action (:func:`usage_record`) in the same transaction.
"""

from openleash.policy.evaluate import (
    CounterpartyContext,
    EvalContext,
    Evaluation,
    Obligations,
    ServerContext,
    build_server_context,
    evaluate,
)
from openleash.policy.layers import (
    Tier,
    binding_tier,
    merge_layers,
    next_rank_in_tier,
    order_bindings,
)
from openleash.policy.limits import (
    Usage,
    UsageKey,
    UsageQuery,
    UsageRecord,
    UsageSelection,
    usage_queries,
    usage_record,
)
from openleash.policy.model import (
    RISK_LEVELS,
    TRUST_LEVELS,
    ActionPattern,
    AllOf,
    AnyOf,
    Constraints,
    Counterparty,
    DefaultEffect,
    Effect,
    Expr,
    Limit,
    Match,
    Not,
    Obligation,
    Op,
    Policy,
    Proof,
    Requirements,
    RiskEntry,
    Rule,
    Schedule,
    Window,
)
from openleash.policy.parser import parse_policy, parse_policy_data
from openleash.policy.paths import UNDEFINED, js_strict_equal
from openleash.policy.profiles import PROFILES, profile_policy_yaml
from openleash.policy.reference import (
    PolicySchemaDocument,
    policy_json_schema,
    policy_schema_document,
)
from openleash.policy.risk import risk_of
from openleash.policy.schedule import schedule_holds
from openleash.policy.syntax import YamlError, dump_yaml, load_yaml
from openleash.policy.trace import (
    ExplanationDetails,
    GrantedLimit,
    LimitReport,
    OtherFailure,
    TraceEntry,
)
from openleash.policy.trust import counterparty_of, trust_of
from openleash.policy.windows import window_start

__all__ = [
    "PROFILES",
    "RISK_LEVELS",
    "TRUST_LEVELS",
    "UNDEFINED",
    "ActionPattern",
    "AllOf",
    "AnyOf",
    "Constraints",
    "Counterparty",
    "CounterpartyContext",
    "DefaultEffect",
    "Effect",
    "EvalContext",
    "Evaluation",
    "ExplanationDetails",
    "Expr",
    "GrantedLimit",
    "Limit",
    "LimitReport",
    "Match",
    "Not",
    "Obligation",
    "Obligations",
    "Op",
    "OtherFailure",
    "Policy",
    "PolicySchemaDocument",
    "Proof",
    "Requirements",
    "RiskEntry",
    "Rule",
    "Schedule",
    "ServerContext",
    "Tier",
    "TraceEntry",
    "Usage",
    "UsageKey",
    "UsageQuery",
    "UsageRecord",
    "UsageSelection",
    "Window",
    "YamlError",
    "binding_tier",
    "build_server_context",
    "counterparty_of",
    "dump_yaml",
    "evaluate",
    "js_strict_equal",
    "load_yaml",
    "merge_layers",
    "next_rank_in_tier",
    "order_bindings",
    "parse_policy",
    "parse_policy_data",
    "policy_json_schema",
    "policy_schema_document",
    "profile_policy_yaml",
    "risk_of",
    "schedule_holds",
    "trust_of",
    "usage_queries",
    "usage_record",
    "window_start",
]
