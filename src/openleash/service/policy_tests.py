"""``openleash policy test``: run the cases of a policy test file against a policy.

Each case is decided as the server would decide it at the case's ``now``, with the earlier
allowed actions of its ``history`` (or the used amounts of its ``usage``) counted by limits, and
compared with what the case expects. No store: nothing is read or recorded but the files.
The format is documented in docs/policy-tests.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from openleash.domain.errors import PolicyError, PolicyIssue
from openleash.domain.jsonvalue import JsonObject, JsonOut
from openleash.policy import (
    Evaluation,
    Policy,
    Usage,
    UsageKey,
    YamlError,
    build_server_context,
    evaluate,
    parse_policy,
)
from openleash.policy.checker import Checker
from openleash.policy.syntax import load_document
from openleash.service.bodies import action_agent_id
from openleash.service.decision_context import DecisionContext, plan_context
from openleash.service.memory_ledger import MemoryLedger, offline_context
from openleash.service.policy_test_file import (
    DEFAULT_AGENT,
    TEST_OWNER,
    Case,
    Expectation,
    read_cases,
    read_now,
    top_level,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a test file could not be run: the file, the line when known, and what is wrong."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Mismatch:
    field: str
    expected: JsonOut
    got: JsonOut


class Decided(TypedDict):
    """What was decided of a case, as a report shows it."""

    result: str
    rule: str | None
    obligations: list[str]
    risk_level: str | None
    reason: str
    explanation: str | None


class MismatchWire(TypedDict):
    field: str
    expected: JsonOut
    got: JsonOut


class CaseWire(TypedDict):
    name: str
    line: int | None
    passed: bool
    mismatches: list[MismatchWire]
    got: Decided
    trace: list[Mapping[str, object]]


class ReportWire(TypedDict):
    """:meth:`PolicyTestReport.to_wire` (``openleash policy test --json``)."""

    file: str
    policy: str | None
    ok: bool
    problems: list[str]
    cases: list[CaseWire]


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    name: str
    line: int | None
    mismatches: tuple[Mismatch, ...]
    #: What was decided: result, rule, obligations, risk_level, reason, explanation.
    got: Decided
    #: The trace entries of the rules whose action pattern matched (and of the expected rule).
    trace: tuple[Mapping[str, object], ...]

    @property
    def passed(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True, slots=True)
class PolicyTestReport:
    file: str
    #: Where the policy came from: a file, or ``policy_yaml`` of the test file.
    policy: str | None
    cases: tuple[CaseOutcome, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems and all(case.passed for case in self.cases)

    @property
    def failed(self) -> int:
        return sum(not case.passed for case in self.cases)

    def to_wire(self) -> ReportWire:
        return {
            "file": self.file,
            "policy": self.policy,
            "ok": self.ok,
            "problems": [str(p) for p in self.problems],
            "cases": [
                {
                    "name": case.name,
                    "line": case.line,
                    "passed": case.passed,
                    "mismatches": [
                        {"field": m.field, "expected": m.expected, "got": m.got}
                        for m in case.mismatches
                    ],
                    "got": case.got,
                    "trace": list(case.trace),
                }
                for case in self.cases
            ],
        }


#: How a report names a policy given in the test file itself.
INLINE = "policy_yaml"


class _UnreadableError(Exception):
    def __init__(self, *problems: Problem) -> None:
        super().__init__(problems)
        self.problems = problems


def run_policy_test_file(path: Path, *, policy_path: Path | None = None) -> PolicyTestReport:
    """Run every case of the test file at ``path``; ``policy_path`` replaces its policy."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return PolicyTestReport(str(path), None, (), (Problem(str(path), None, str(exc)),))
    return run_policy_test_text(text, file=str(path), base_dir=path.parent, policy_path=policy_path)


def run_policy_test_text(
    text: str, *, file: str, base_dir: Path, policy_path: Path | None = None
) -> PolicyTestReport:
    """Run the cases of a test file given as text; relative policy paths start at
    ``base_dir``."""
    try:
        source, policy, cases = _read(text, file, base_dir, policy_path)
    except _UnreadableError as exc:
        return PolicyTestReport(file, None, (), exc.problems)
    return PolicyTestReport(file, source, tuple(run_case(policy, c) for c in cases), ())


def _read(
    text: str, file: str, base_dir: Path, policy_path: Path | None
) -> tuple[str, Policy, tuple[Case, ...]]:
    try:
        document = load_document(text)
    except YamlError as exc:
        problem = Problem(file, exc.line, f"not readable YAML: {exc.problem}")
        raise _UnreadableError(problem) from None
    checker = Checker(document.line)
    top = top_level(checker, document.data)
    if top is None:
        raise _UnreadableError(*_problems(file, checker))
    source, policy = _policy(checker, top, file, base_dir, policy_path)
    now = read_now(checker, top)
    cases = read_cases(checker, top, policy, now) if "cases" in top else None
    if checker.issues or cases is None:
        raise _UnreadableError(*_problems(file, checker))
    return source, policy, cases


def _problems(file: str, checker: Checker) -> tuple[Problem, ...]:
    return tuple(
        Problem(file, issue.get("line"), f"{issue['path']}: {issue['message']}")
        for issue in checker.issues
    )


# ---- the policy -----------------------------------------------------------------------------


def _policy(
    c: Checker, top: JsonObject, file: str, base_dir: Path, override: Path | None
) -> tuple[str, Policy]:
    if override is not None:
        return str(override), _parse(_read_policy(override, file, None), str(override))
    if ("policy" in top) == ("policy_yaml" in top):
        c.fail((), "needs exactly one of `policy` (a file) or `policy_yaml` (the policy itself)")
        raise _UnreadableError(*_problems(file, c))
    if "policy_yaml" in top:
        text = c.string(top["policy_yaml"], ("policy_yaml",))
        if text is None:
            raise _UnreadableError(*_problems(file, c))
        # A block scalar (`policy_yaml: |`) starts on the line after its key.
        return INLINE, _parse(text, file, inline_at=c.line(("policy_yaml",)))
    name = c.string(top["policy"], ("policy",))
    if name is None:
        raise _UnreadableError(*_problems(file, c))
    path = base_dir / name
    return str(path), _parse(_read_policy(path, file, c.line(("policy",))), str(path))


def _read_policy(path: Path, file: str, line: int | None) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _UnreadableError(Problem(file, line, f"policy: cannot read {path}: {exc}")) from None


def _parse(text: str, source: str, *, inline_at: int | None = None) -> Policy:
    try:
        return parse_policy(text)
    except PolicyError as exc:
        problems = [_policy_problem(source, issue, inline_at) for issue in exc.issues]
        raise _UnreadableError(*(problems or [Problem(source, None, exc.message)])) from None


def _policy_problem(source: str, issue: PolicyIssue, inline_at: int | None) -> Problem:
    line, message = issue.get("line"), f"{issue.get('path')}: {issue['message']}"
    if inline_at is None:
        return Problem(source, line, message)
    return Problem(source, inline_at + line if line else inline_at, f"policy_yaml: {message}")


# ---- one case -------------------------------------------------------------------------------


def run_case(policy: Policy, case: Case) -> CaseOutcome:
    evaluation = decide_case(policy, case)
    expected_rule = case.expect.rule if "rule" in case.expect.named else None
    trace = tuple(
        dict(entry)
        for entry in evaluation.trace
        if entry["pattern_match"] or entry["rule_id"] == expected_rule
    )
    return CaseOutcome(
        name=case.name,
        line=case.line,
        mismatches=_compare(case.expect, evaluation),
        got=_got(evaluation),
        trace=trace,
    )


def decide_case(policy: Policy, case: Case) -> Evaluation:
    """Decide the case's action as the server would at ``case.now`` after its history."""
    ledger = MemoryLedger()
    for earlier in case.history:
        for _ in range(earlier.repeat):
            ledger.record(TEST_OWNER, earlier.agent, earlier.action, earlier.at)
    agent = action_agent_id(case.action) or DEFAULT_AGENT
    plan = plan_context(policy, case.action, TEST_OWNER, agent, case.now)
    context = offline_context(ledger, plan)
    server_context = context.server_context
    if case.allowed_before is not None:
        server_context = build_server_context(
            policy, case.action, now=case.now, allowed_before=case.allowed_before
        )
    given = DecisionContext(server_context, _given_usage(policy, case, context.usage))
    return evaluate(policy, case.action, given.evaluation(case.now))


def _given_usage(
    policy: Policy, case: Case, counted: dict[UsageKey, Usage]
) -> dict[UsageKey, Usage]:
    """What ``history`` adds up to, except for the rules whose ``usage`` the case gives."""
    for key in counted:
        given = case.usage.get(policy.rules[key[0]].id)
        if given is not None:
            counted[key] = given
    return counted


def _got(evaluation: Evaluation) -> Decided:
    return {
        "result": evaluation.result.value,
        "rule": evaluation.matched_rule_id,
        "obligations": [kind for kind, _ in evaluation.obligations],
        "risk_level": evaluation.risk_level,
        "reason": evaluation.reason,
        "explanation": evaluation.explanation,
    }


def _compare(expect: Expectation, evaluation: Evaluation) -> tuple[Mismatch, ...]:
    got = _got(evaluation)
    pairs: list[tuple[str, JsonOut, JsonOut]] = [("result", expect.result.value, got["result"])]
    if "rule" in expect.named:
        pairs.append(("rule", expect.rule, got["rule"]))
    if "obligations" in expect.named:
        pairs.append(("obligations", list(expect.obligations), got["obligations"]))
    if "risk_level" in expect.named:
        pairs.append(("risk_level", expect.risk_level, got["risk_level"]))
    mismatches = [Mismatch(name, want, have) for name, want, have in pairs if want != have]
    wanted = expect.explanation_contains
    if wanted is not None and wanted not in (evaluation.explanation or ""):
        mismatches.append(Mismatch("explanation", f"contains {wanted!r}", evaluation.explanation))
    return tuple(mismatches)
