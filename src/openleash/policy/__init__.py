"""The policy language: parse, validate, layer and evaluate. Pure: no I/O, no clock.

Text goes through three separate steps, each in its own module: ``syntax`` (YAML 1.2 to plain
data with lines), ``parser`` (plain data to a typed, validated :class:`Policy`) and
``evaluate`` (a policy and an action to an :class:`Evaluation`). ``layers`` builds the one
effective policy from an owner's bindings.
"""

from openleash.policy.evaluate import EvalContext, Evaluation, evaluate
from openleash.policy.layers import (
    Tier,
    binding_tier,
    merge_layers,
    next_rank_in_tier,
    order_bindings,
)
from openleash.policy.model import (
    ActionPattern,
    AllOf,
    AnyOf,
    Constraints,
    DefaultEffect,
    Effect,
    Expr,
    Match,
    Not,
    Obligation,
    Op,
    Policy,
    Proof,
    Requirements,
    Rule,
)
from openleash.policy.parser import parse_policy, parse_policy_data
from openleash.policy.paths import UNDEFINED, js_strict_equal
from openleash.policy.profiles import PROFILES, profile_policy_yaml
from openleash.policy.reference import policy_json_schema, policy_schema_document
from openleash.policy.syntax import YamlError, dump_yaml, load_yaml

__all__ = [
    "PROFILES",
    "UNDEFINED",
    "ActionPattern",
    "AllOf",
    "AnyOf",
    "Constraints",
    "DefaultEffect",
    "Effect",
    "EvalContext",
    "Evaluation",
    "Expr",
    "Match",
    "Not",
    "Obligation",
    "Op",
    "Policy",
    "Proof",
    "Requirements",
    "Rule",
    "Tier",
    "YamlError",
    "binding_tier",
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
]
