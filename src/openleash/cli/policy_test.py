"""``openleash policy test``: run policy test files and show what differs."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from openleash.cli.common import print_json
from openleash.service.policy_tests import CaseOutcome, PolicyTestReport, run_policy_test_file

#: The trace stages of a rule, in the order the engine checks them.
STAGES = ("when", "constraints", "schedule", "limits")


@click.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Test this policy file instead of the one each test file names.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def test_command(files: tuple[Path, ...], policy_path: Path | None, as_json: bool) -> None:
    """Check what a policy decides against test FILES.

    The format of test files is in docs/policy-tests.md.

    Each case's action is decided as the server would decide it, at the case's time and after
    its history, and compared with what the case expects. Exit status 1 when a case fails or a
    file cannot be read.

    \b
    Examples:
      openleash policy test tests/shopping.yaml
      openleash policy test tests/*.yaml --policy candidate.yaml
    """
    reports = [run_policy_test_file(path, policy_path=policy_path) for path in files]
    if as_json:
        print_json([report.to_wire() for report in reports])
    else:
        for report in reports:
            _print_report(report)
        click.echo(_summary(reports))
    if not all(report.ok for report in reports):
        sys.exit(1)


def _print_report(report: PolicyTestReport) -> None:
    if report.problems:
        click.echo(f"{report.file}: cannot run")
        for problem in report.problems:
            click.echo(f"  error: {problem}")
        return
    click.echo(f"{report.file} (policy: {report.policy})")
    for case in report.cases:
        if case.passed:
            click.echo(f"  PASS  {case.name}")
        else:
            _print_failure(report.file, case)


def _print_failure(file: str, case: CaseOutcome) -> None:
    where = f"{file}:{case.line}" if case.line is not None else file
    click.echo(f"  FAIL  {case.name}  ({where})")
    width = max(len(m.field) for m in case.mismatches)
    for m in case.mismatches:
        label = f"{m.field}:".ljust(width + 1)
        click.echo(f"          {label}  expected {_shown(m.field, m.expected)}")
        click.echo(f"          {' ' * (width + 1)}  got      {_shown(m.field, m.got)}")
    why = case.got["explanation"] or case.got["reason"]
    if why and all(m.field != "explanation" for m in case.mismatches):
        click.echo(f"          why: {why}")
    if case.trace:
        click.echo("          trace:")
        names = max(len(str(entry["rule_id"])) for entry in case.trace)
        for entry in case.trace:
            state = _rule_state(entry, case.got["rule"])
            click.echo(f"            {str(entry['rule_id']).ljust(names)}  {state}")


def _rule_state(entry: Mapping[str, Any], decided: str | None) -> str:
    """Whether the rule held, or the stage at which it stopped (stages stop at the first)."""
    if not entry["pattern_match"]:
        return "action does not match"
    failed = next((s for s in STAGES if entry.get(f"{s}_match") is False), None)
    if failed is None:
        return "holds  <- decided" if entry["rule_id"] == decided else "holds"
    if failed == "limits":
        over = [_limit_state(limit) for limit in entry.get("limits", ()) if not limit["holds"]]
        return "limits failed: " + "; ".join(over)
    return f"{failed} failed"


def _limit_state(limit: Mapping[str, Any]) -> str:
    used, this = limit["used"], limit["this"]
    if used is None or this is None:
        return f"{limit['kind']} over {limit['window']}: not countable"
    return f"{limit['kind']} {used} + {this} > {limit['max']} ({limit['window']})"


def _shown(field: str, value: Any) -> str:
    if value is None:
        return "null (the default)" if field == "rule" else "none"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _summary(reports: list[PolicyTestReport]) -> str:
    cases = [case for report in reports for case in report.cases]
    failed = sum(not case.passed for case in cases)
    unreadable = sum(bool(report.problems) for report in reports)
    parts = [f"{len(cases) - failed} passed", f"{failed} failed"]
    if unreadable:
        parts.append(f"{unreadable} file{'s' if unreadable != 1 else ''} not run")
    return ", ".join(parts)
