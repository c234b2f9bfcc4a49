"""Policy regular expressions: JavaScript's meaning, run by a linear-time engine.

No test here times anything. Linear time holds by construction: every pattern is compiled by
RE2, an automaton engine without backtracking; what RE2 cannot run (backreferences,
lookaround) is refused when the policy is validated, and the tests check both halves.
"""

from __future__ import annotations

import textwrap

import pytest
import re2

from openleash.domain.errors import PolicyError
from openleash.domain.models import Result
from openleash.policy import evaluate, parse_policy
from openleash.policy.model import Policy
from openleash.policy.regex import (
    MAX_PATTERN_CHARS,
    WORK_BUDGET,
    RegexBudgetError,
    RegexError,
    compile_js_regex,
    regex_budget,
)
from tests.unit.policy.helpers import CONTEXT, action


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("^abc$", "abc", True),
        ("abc$", "abc\n", False),  # `$` is the end of the input only
        ("^abc", "x\nabc", False),
        ("b", "abc", True),  # unanchored
        ("\\d", "٣", False),  # ASCII digits only
        ("\\w", "é", False),
        ("\\W", "é", True),
        ("\\Z", "Z", True),  # an identity escape in JavaScript, not an anchor
        ("\\a", "a", True),
        ("\\p{L}", "p{L}", True),  # no `u` flag: `\p` is a plain `p`
        ("ABC", "abc", False),
        ("a.c", "a\nc", False),
        ("a.c", "a\u2028c", False),  # `.` stops at every line terminator
        ("a.c", "a\u00e9c", True),
        ("]", "]", True),
        ("[]", "a", False),  # the empty class matches nothing
        ("[^]", "\n", True),  # and its negation anything
        ("\\s", "\u00a0", True),  # JavaScript's white space includes NBSP and BOM
        ("\\s", "\ufeff", True),
        ("[\\s]", "\u3000", True),
        ("\\S", "\u00a0", False),
        ("[\\b]", "\x08", True),  # backspace inside a class
        ("\\bfoo\\b", "a foo b", True),
        ("(?<year>\\d{4})-x", "2024-x", True),  # a named group is a group
        ("\\u0041", "A", True),
        ("\\uD83D\\uDE00", "\U0001f600", True),
        ("\\x41", "A", True),
        ("\\x4", "x4", True),
        ("\\cJ", "\n", True),
        ("\\0", "\x00", True),
        ("\\8", "8", True),
        ("[[:alpha:]]", "[", False),  # a class of `[:alph` then `]`, not a POSIX class
        ("[[:alpha:]]", "a]", True),
        ("a{", "a{", True),
        ("(?:ab)+$", "abab", True),
        ("\\v", "\x0b", True),
    ],
)
def test_patterns_keep_their_javascript_meaning(pattern: str, text: str, found: bool) -> None:
    assert compile_js_regex(pattern).test(text) is found


@pytest.mark.parametrize("pattern", ["(", "a**", "(?i)a", "[z-a]"])
def test_patterns_javascript_rejects_are_marked_so(pattern: str) -> None:
    with pytest.raises(RegexError) as caught:
        compile_js_regex(pattern)
    assert caught.value.invalid_in_js


def test_a_pattern_javascript_rejects_is_a_warning_and_never_matches() -> None:
    policy = parse_policy(_regex_policy("a**"))
    assert [w["path"] for w in policy.warnings] == ["rules[0].when.match.value"]
    assert _decide(policy, "aaa") is Result.DENY


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(a)\\1", "backreference"),
        ("(?<n>a)\\k<n>", "backreference"),
        ("(?<=a)b", "lookahead or lookbehind"),
        ("(?<!a)b", "lookahead or lookbehind"),
        ("a(?=b)", "lookahead or lookbehind"),
        ("a(?!b)", "lookahead or lookbehind"),
        ("[\\S]", "inside a character class"),
        ("\\01", "octal"),
        ("\\uD800", "lone surrogate"),
        ("x{1001}", "linear-time engine"),
        ("a" * (MAX_PATTERN_CHARS + 1), f"longer than {MAX_PATTERN_CHARS}"),
    ],
)
def test_patterns_the_linear_engine_cannot_run_are_refused_with_their_place(
    pattern: str, words: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(_regex_policy(pattern))
    (issue,) = caught.value.issues
    assert issue["path"] == "rules[0].when.match.value"
    assert issue["line"] == 7
    assert words in issue["message"]
    assert caught.value.code == "INVALID_POLICY"


@pytest.mark.parametrize(
    ("pattern", "found"),
    [
        ("^(a+)+$", False),
        ("^(a|a)*$", False),
        ("(a|a)*$", True),  # the empty match at the end
        ("(a|aa)+$", False),
        ("^(a|aa)+!$", True),
        ("(.*a){20}", True),
        ("^(\\w+\\s?)*$", False),
    ],
)
def test_pathological_patterns_decide_on_long_adversarial_input(pattern: str, found: bool) -> None:
    compiled = compile_js_regex(pattern)
    # By construction: the pattern runs on RE2, whose search time is linear in the input.
    assert isinstance(compiled._compiled, re2._re2.RE2)
    assert compiled.test("a" * 20_000 + "!") is found


def test_searches_beyond_the_work_budget_fail_closed() -> None:
    pattern = compile_js_regex("(.*a){20}")
    text = "a" * (WORK_BUDGET // (pattern._size * 4))  # a quarter of the budget a search
    with regex_budget():
        for _ in range(3):
            pattern.test(text)  # within the budget
        with pytest.raises(RegexBudgetError):
            pattern.test(text * 2)


def test_a_decision_whose_regex_work_exceeds_the_budget_is_denied() -> None:
    # The only rule denies on a match; were the over-budget search taken as "no match", the
    # default would allow.
    policy = parse_policy(
        textwrap.dedent(
            """\
            version: 1
            default: allow
            rules:
              - id: no_runs
                effect: deny
                action: purchase
                when: { match: { path: "$.payload.note", op: regex, value: "(.*a){20}b" } }
            """
        )
    )
    assert _decide(policy, "a" * 10) is Result.ALLOW
    evaluation = evaluate(policy, action(payload={"note": "a" * (WORK_BUDGET // 100)}), CONTEXT)
    assert evaluation.result is Result.DENY
    assert evaluation.error is not None
    assert "RegexBudgetError" in evaluation.error


def test_lone_surrogates_in_the_input_do_not_match() -> None:
    assert compile_js_regex(".").test("\ud800") is False


def _regex_policy(pattern: str) -> str:
    quoted = pattern.replace("\\", "\\\\").replace('"', '\\"')
    return (
        "version: 1\n"
        "default: deny\n"
        "rules:\n"
        "  - id: r\n"
        "    effect: allow\n"
        "    action: purchase\n"
        f'    when: {{ match: {{ path: "$.payload.note", op: regex, value: "{quoted}" }} }}\n'
    )


def _decide(policy: Policy, note: str) -> Result:
    return evaluate(policy, action(payload={"note": note}), CONTEXT).result
