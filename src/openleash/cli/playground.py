"""``openleash playground``: evaluate the bundled example actions against a policy.

Nothing is stored or recorded; no proof is issued.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import click

from openleash.bootstrap import Services, options_from, store_is_transient
from openleash.cli.common import (
    config_option,
    data_dir_option,
    fails_cleanly,
    print_json,
    run_with_services,
    settings_for,
)
from openleash.cli.policy import read_policy_file
from openleash.config import Settings
from openleash.domain.jsonvalue import JsonObject
from openleash.policy import PROFILES, profile_policy_yaml
from openleash.service.public import (
    PlaygroundAnswer,
    PlaygroundRun,
    StoredPolicyAnswer,
    playground_run,
)

SCENARIO_PACKAGE = "openleash.playground"
PROFILE_NAMES: tuple[str, ...] = PROFILES
DEFAULT_PROFILE = "balanced"


def profile_yaml(name: str) -> str:
    """The policy YAML of the built-in profile ``name``."""
    for profile in PROFILES:
        if profile == name:
            return profile_policy_yaml(profile)
    raise click.BadParameter(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")


def scenario_names() -> list[str]:
    folder = resources.files(SCENARIO_PACKAGE)
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json") and entry.is_file()
    )


def load_scenario(name: str) -> JsonObject:
    """A bundled scenario by name, or a JSON file of an action given by path."""
    if name.endswith(".json") and Path(name).is_file():
        text = Path(name).read_text(encoding="utf-8")
    else:
        entry = resources.files(SCENARIO_PACKAGE) / f"{name}.json"
        if not entry.is_file():
            raise click.BadParameter(
                f"no scenario {name!r}; choose one of: {', '.join(scenario_names())} "
                "(or give the path of a .json action file)",
                param_hint="NAME",
            )
        text = entry.read_text(encoding="utf-8")
    try:
        action = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{name} is not JSON: {exc}", param_hint="NAME") from exc
    if not isinstance(action, dict):
        raise click.BadParameter(f"{name} must hold a JSON object", param_hint="NAME")
    return action


@click.group()
def playground() -> None:
    """Try policies against example actions without changing anything.

    \b
    Examples:
      openleash playground list
      openleash playground run small_purchase_allowed
      openleash playground run doctor_booking_requires_stepup --profile conservative
      openleash playground run large_purchase_requires_approval --policy policy.yaml
    """


@playground.command("list")
def list_command() -> None:
    """List the bundled scenarios."""
    for name in scenario_names():
        click.echo(name)


def _store_exists(settings: Settings) -> bool:
    # Looking at a stored policy must not create a data folder where there is none. An
    # in-memory store would be a new, empty one: nothing is stored there.
    if store_is_transient(settings):
        return False
    return bool(settings.store_url) or Path(settings.database).is_file()


def _evaluate(
    settings: Settings,
    action: JsonObject,
    policy_file: Path | None,
    policy_id: str | None,
    profile: str | None,
) -> tuple[PlaygroundAnswer, str]:
    """The playground answer and a description of the policy it used."""
    if policy_file is not None:
        body: JsonObject = {"policy_yaml": read_policy_file(policy_file), "action": action}
        run = PlaygroundRun.from_body(body)
        return playground_run(run, options_from(settings)), f"file {policy_file}"
    if policy_id is not None or (profile is None and _store_exists(settings)):
        fallback = profile_yaml(DEFAULT_PROFILE)

        async def work(s: Services) -> StoredPolicyAnswer:
            return await s.operator.playground_run(
                action, policy_id=policy_id, fallback_policy_yaml=fallback
            )

        result = run_with_services(settings, work)
        used = result["policy"]
        if used["policy_id"] is None:
            return result, f"{DEFAULT_PROFILE} profile (no policy is stored)"
        name = f" ({used['name']})" if used["name"] else ""
        latest = "" if policy_id else ", the one added last"
        return result, f"stored policy {used['policy_id']}{name}{latest}"
    chosen = profile or DEFAULT_PROFILE
    body = {"policy_yaml": profile_yaml(chosen), "action": action}
    run = PlaygroundRun.from_body(body)
    return playground_run(run, options_from(settings)), f"{chosen} profile"


def _render(name: str, action: JsonObject, result: PlaygroundAnswer, policy: str) -> None:
    decision = result["decision"]
    click.echo(f"scenario:     {name} ({action.get('action_type')})")
    click.echo(f"policy:       {policy}")
    click.echo(f"action hash:  {result['action_hash']}")
    click.echo(f"result:       {decision['result']}")
    click.echo(f"matched rule: {decision['matched_rule_id'] or '(none)'}")
    click.echo(f"reason:       {decision['reason']}")
    obligations = decision["obligations"]
    click.echo("obligations:" + ("" if obligations else "  none"))
    for ob in obligations:
        details = json.dumps(ob["details_json"], ensure_ascii=False) if ob["details_json"] else ""
        click.echo(f"  - {ob['type']} {details}".rstrip())
    click.echo("trace:")
    trace = result["debug"]["trace"]
    if not trace:
        click.echo("  (the policy has no rules)")
    width = max((len(str(step.get("rule_id"))) for step in trace), default=0)
    for step in trace:
        marks = "  ".join(
            f"{label}={_mark(step.get(key)):3}"
            for label, key in (
                ("action", "pattern_match"),
                ("when", "when_match"),
                ("constraints", "constraints_match"),
            )
        )
        final = "MATCH" if step.get("final_match") else "-"
        click.echo(f"  {final:5}  {step.get('rule_id')!s:{width}}  {marks}")


def _mark(value: object) -> str:
    return "n/a" if value is None else ("yes" if value else "no")


@playground.command("run")
@click.argument("name")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Evaluate against this policy YAML file.",
)
@click.option("--policy-id", default=None, help="Evaluate against this stored policy.")
@click.option(
    "--profile",
    type=click.Choice(PROFILE_NAMES),
    default=None,
    help="Evaluate against a built-in profile policy.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full answer as JSON.")
@data_dir_option
@config_option
@fails_cleanly
def run_command(
    name: str,
    policy_file: Path | None,
    policy_id: str | None,
    profile: str | None,
    as_json: bool,
    data_dir: Path | None,
    config_path: Path | None,
) -> None:
    """Evaluate scenario NAME and show the decision with the trace of every rule.

    The policy is --policy, --policy-id or --profile. Without one: the stored policy added
    last, or the balanced profile when no policy is stored. Layering of several policies
    does not apply here; each run evaluates exactly one policy.
    """
    if sum(x is not None for x in (policy_file, policy_id, profile)) > 1:
        raise click.UsageError("Choose at most one of --policy, --policy-id and --profile.")
    action = load_scenario(name)
    result, policy = _evaluate(
        settings_for(data_dir, config_path), action, policy_file, policy_id, profile
    )
    if as_json:
        print_json({**result, "policy_used": policy})
    else:
        _render(name, action, result, policy)
