"""Policy test files: reading them (every problem with file and line) and deciding each case as
the server would."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from openleash.service.policy_tests import (
    PolicyTestReport,
    run_policy_test_file,
    run_policy_test_text,
)

POLICY = """\
version: 1
default: deny
rules:
  - id: per_agent_budget
    effect: allow
    action: purchase
    limits: [{ spend: 1000, window: 24h, by: [currency] }]
  - id: team_rate
    effect: allow
    action: "email.*"
    limits: [{ count: 2, window: 1h, per: owner }]
  - id: no_limits
    effect: allow
    action: calendar.book
"""


def run(
    cases_yaml: str, *, policy: str = POLICY, now: str = "2026-07-01T10:00:00Z"
) -> PolicyTestReport:
    text = (
        "policy_yaml: |\n"
        + textwrap.indent(policy, "  ")
        + f'now: "{now}"\n'
        + "cases:\n"
        + textwrap.indent(textwrap.dedent(cases_yaml), "  ")
    )
    return run_policy_test_text(text, file="t.yaml", base_dir=Path("."))


def outcomes(report: PolicyTestReport) -> list[tuple[str, bool]]:
    assert not report.problems, report.problems
    return [(case.name, case.passed) for case in report.cases]


def problems(report: PolicyTestReport) -> list[str]:
    assert report.problems, "expected problems"
    return [str(p) for p in report.problems]


def test_history_counts_only_what_the_limit_selects() -> None:
    report = run("""\
        - name: another currency does not count
          action: { action_type: purchase, payload: { amount_minor: 900, currency: USD } }
          history:
            - { action_type: purchase, payload: { amount_minor: 900, currency: EUR }, ago: 1h }
          expect: { result: ALLOW, rule: per_agent_budget }
        - name: another agent does not count for a per-agent limit
          action: { action_type: purchase, payload: { amount_minor: 900, currency: USD } }
          history:
            - { action_type: purchase, payload: { amount_minor: 900, currency: USD },
                ago: 1h, agent: other-bot }
          expect: { result: ALLOW }
        - name: the same agent does
          action: { action_type: purchase, payload: { amount_minor: 900, currency: USD } }
          history:
            - { action_type: purchase, payload: { amount_minor: 900, currency: USD }, ago: 1h }
          expect: { result: DENY, rule: null }
        - name: a history older than the window does not
          action: { action_type: purchase, payload: { amount_minor: 900, currency: USD } }
          history:
            - { action_type: purchase, payload: { amount_minor: 900, currency: USD }, ago: 25h }
          expect: { result: ALLOW }
        - name: every agent counts for a per-owner limit
          action: { action_type: email.send, principal: { agent_id: bot-a } }
          history:
            - { action_type: email.send, agent: bot-b, ago: 10m, repeat: 2 }
          expect: { result: DENY }
        - name: history defaults to the agent of the case
          action: { action_type: purchase, payload: { amount_minor: 900, currency: USD },
                    principal: { agent_id: bot-a } }
          history:
            - { action_type: purchase, payload: { amount_minor: 900, currency: USD }, ago: 1h }
          expect: { result: DENY }
        """)
    assert all(passed for _, passed in outcomes(report)), report.to_wire()


def test_usage_stands_in_for_history() -> None:
    report = run("""\
        - name: used up
          action: { action_type: email.send }
          usage: { team_rate: { count: 2 } }
          history:
            - { action_type: email.send, ago: 1m }
          expect: { result: DENY, explanation_contains: "rate (all the owner's agents): 2 of 2" }
        - name: not given is zero
          action: { action_type: purchase, payload: { amount_minor: 1000, currency: USD } }
          usage: { per_agent_budget: { count: 40 } }
          expect: { result: ALLOW }
        """)
    assert all(passed for _, passed in outcomes(report)), report.to_wire()


def test_a_failing_case_reports_each_mismatch_and_the_relevant_trace() -> None:
    report = run("""\
        - name: wrong on purpose
          action: { action_type: calendar.book }
          expect:
            result: DENY
            rule: per_agent_budget
            obligations: [HUMAN_APPROVAL]
            risk_level: high
            explanation_contains: nothing like this
        """)
    (case,) = report.cases
    assert not report.ok
    assert case.line == 18
    assert [(m.field, m.expected, m.got) for m in case.mismatches] == [
        ("result", "DENY", "ALLOW"),
        ("rule", "per_agent_budget", "no_limits"),
        ("obligations", ["HUMAN_APPROVAL"], []),
        ("risk_level", "high", "low"),
        ("explanation", "contains 'nothing like this'", None),
    ]
    # The rule the case expected is shown even though its action pattern did not match.
    assert [entry["rule_id"] for entry in case.trace] == ["per_agent_budget", "no_limits"]


def test_problems_name_the_file_and_line() -> None:
    report = run("""\
        - name: both times
          action: { action_type: purchase }
          history: [{ action_type: purchase, at: "2026-07-01T09:00:00Z", ago: 1h }]
          expect: { result: ALLOW }
        - name: no time, a bad span and a bad repeat
          action: { action_type: purchase }
          history:
            - { action_type: purchase }
            - { action_type: purchase, ago: 1y, repeat: 0 }
          expect: { result: ALLOW }
        - name: usage of a rule without limits
          action: { action_type: purchase }
          usage: { no_limits: { amount: 1 }, nope: { count: 1 } }
          expect: { result: ALLOW }
        - name: not an action
          action: { action_type: purchase, payload: [] }
          expect: { result: ALLOWED, rule: 3 }
        - action: { action_type: purchase }
          expect: { result: ALLOW }
        """)
    assert problems(report) == [
        "t.yaml:20: cases[0].history[0]: needs exactly one of `at` (a time) or `ago` (such as 2h)",
        "t.yaml:25: cases[1].history[0]: needs exactly one of `at` (a time) or `ago` (such as 2h)",
        "t.yaml:26: cases[1].history[1].ago: must be a span such as 90s, 15m, 2h or 3d, not `1y`",
        "t.yaml:26: cases[1].history[1].repeat: must be between 1 and 100000, not 0",
        "t.yaml:30: cases[2].usage.no_limits: no rule `no_limits` with limits "
        "(rules with: per_agent_budget, team_rate)",
        "t.yaml:30: cases[2].usage.nope: no rule `nope` with limits "
        "(rules with: per_agent_budget, team_rate)",
        "t.yaml:33: cases[3].action: is not a valid action: Invalid action request: payload: "
        "Invalid input: expected object, received array",
        "t.yaml:34: cases[3].expect.result: must be one of ALLOW, DENY, REQUIRE_APPROVAL, "
        "REQUIRE_STEP_UP, REQUIRE_DEPOSIT, not `ALLOWED`",
        "t.yaml:34: cases[3].expect.rule: must be a rule id, or null for the default, not `3`",
        "t.yaml:35: cases[4]: missing required key `name`",
    ]


def test_history_must_come_before_the_case() -> None:
    report = run("""\
        - name: later
          action: { action_type: purchase }
          history: [{ action_type: purchase, at: "2026-07-01T10:00:01Z" }]
          expect: { result: ALLOW }
        """)
    assert problems(report) == [
        "t.yaml:20: cases[0].history[0]: is after the case's time (2026-07-01T10:00:00.000Z); "
        "history is what came before"
    ]


def test_an_invalid_inline_policy_is_reported_at_its_line_in_the_test_file() -> None:
    report = run(
        "- { name: x, action: { action_type: a }, expect: { result: DENY } }\n",
        policy="version: 1\ndefault: deny\nrules:\n  - { id: r, effect: maybe, action: a }\n",
    )
    assert problems(report) == [
        "t.yaml:5: policy_yaml: rules[0].effect: must be one of allow, deny, not `maybe`"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cases: [\n", "t.yaml:2: not readable YAML"),
        ("- 1\n", "t.yaml:1: policy: must be an object, not a list"),
        (
            "cases: []\npolicy_yaml: '{version: 1, default: deny, rules: []}'\n",
            "t.yaml:1: cases: has no case",
        ),
        (
            "cases: []\n",
            "t.yaml:1: policy: needs exactly one of `policy` (a file) or `policy_yaml`",
        ),
        (
            "policy: missing.yaml\ncases: []\n",
            "t.yaml:1: policy: cannot read missing.yaml",
        ),
    ],
)
def test_unreadable_files(text: str, expected: str) -> None:
    report = run_policy_test_text(text, file="t.yaml", base_dir=Path("."))
    assert not report.ok
    assert str(report.problems[0]).startswith(expected), report.problems


def test_a_policy_file_relative_to_the_test_file_or_replaced(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "deny.yaml").write_text("version: 1\ndefault: deny\nrules: []\n")
    tests = tmp_path / "t.yaml"
    tests.write_text(
        "policy: p.yaml\ncases:\n"
        "  - { name: booked, action: { action_type: calendar.book }, expect: { result: ALLOW } }\n"
    )
    assert run_policy_test_file(tests).ok
    replaced = run_policy_test_file(tests, policy_path=tmp_path / "deny.yaml")
    assert replaced.policy == str(tmp_path / "deny.yaml")
    assert replaced.failed == 1
    missing = run_policy_test_file(tmp_path / "none.yaml")
    assert str(missing.problems[0]).startswith(f"{tmp_path / 'none.yaml'}: ")
