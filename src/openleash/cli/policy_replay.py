"""``openleash policy replay``: what a candidate policy would have decided differently."""

from __future__ import annotations

from pathlib import Path

import click

from openleash.cli.common import (
    config_option,
    data_dir_option,
    fails_cleanly,
    print_json,
    run_with_services,
    settings_for,
)
from openleash.service.replay import ReplayExample, ReplayQuery, ReplayReport, replay


@click.command("replay")
@click.option(
    "--candidate",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The policy YAML file to try.",
)
@click.option("--owner", "owner_id", default=None, help="Only this owner's decisions.")
@click.option("--agent", default=None, help="Only this agent's (agent id or principal id).")
@click.option(
    "--since", default=None, help="From this time: ISO-8601, a date, or 30m / 12h / 7d ago."
)
@click.option(
    "--examples",
    type=click.IntRange(0, 1000),
    default=5,
    show_default=True,
    help="Examples shown per kind of change (the latest).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@data_dir_option
@config_option
@fails_cleanly
def replay_command(
    candidate: Path,
    owner_id: str | None,
    agent: str | None,
    since: str | None,
    examples: int,
    as_json: bool,
    data_dir: Path | None,
    config_path: Path | None,
) -> None:
    """Re-decide recorded decisions under a candidate policy.

    Each recorded action is decided again under the candidate at the time it was made, and
    the report counts how the results would change, with examples.

    Budgets and rate limits count the actions the candidate itself would have allowed. Nothing
    is stored or changed.

    \b
    Examples:
      openleash policy replay --candidate stricter.yaml --since 7d
      openleash policy replay --candidate new.yaml --agent shopping-bot --json
    """
    try:
        candidate_yaml = candidate.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.FileError(str(candidate), hint=str(exc)) from exc
    query = ReplayQuery(owner=owner_id, agent=agent, since=since, examples=examples)
    report = run_with_services(
        settings_for(data_dir, config_path),
        lambda s: replay(s.store, candidate_yaml, query, now=s.options.clock()),
    )
    if as_json:
        print_json(report.to_wire())
    else:
        _print_report(report, candidate)


def _print_report(report: ReplayReport, candidate: Path) -> None:
    since = f" since {report.since}" if report.since else ""
    click.echo(f"Replayed {report.replayed} decisions{since} under {candidate}.")
    notes = []
    if report.warm_up:
        notes.append(f"{report.warm_up} earlier decisions replayed to rebuild usage")
    if report.skipped:
        notes.append(f"{report.skipped} records skipped (no recorded action)")
    if notes:
        click.echo("(" + "; ".join(notes) + ")")
    other_rule = f" ({report.rule_changed} by another rule)" if report.rule_changed else ""
    click.echo(f"  unchanged: {report.unchanged}{other_rule}")
    for key, count in report.transitions.most_common():
        click.echo(f"  {key}: {count}")
    for key, count in report.transitions.most_common():
        found = report.examples.get(key, [])
        if found:
            click.echo(f"\n{key} (latest {len(found)} of {count}):")
            for example in found:
                _print_example(example)


def _print_example(example: ReplayExample) -> None:
    click.echo(
        f"  {example.at}  {example.action_type}  agent {example.agent_id}  "
        f"decision {example.decision_id}"
    )
    click.echo(
        f"    was {example.old_result} by {_rule(example.old_rule)}; "
        f"now {example.new_result} by {_rule(example.new_rule)}"
    )
    if example.explanation:
        click.echo(f"    why: {example.explanation}")


def _rule(rule_id: str | None) -> str:
    return f'"{rule_id}"' if rule_id else "the default"
