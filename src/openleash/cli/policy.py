"""``openleash policy``: list, show, create or update, validate and delete policies.

Changes go through the store, so a running server picks them up without a restart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from openleash.bootstrap import Services
from openleash.cli.common import (
    config_option,
    data_dir_option,
    fails_cleanly,
    print_json,
    run_with_services,
    settings_for,
)
from openleash.cli.policy_replay import replay_command
from openleash.cli.policy_test import test_command
from openleash.domain.errors import OpenLeashError, PolicyError
from openleash.domain.models import PolicyRecord
from openleash.policy.parser import MAX_POLICY_BYTES
from openleash.service.policies import PolicyUpsert, policy_view, validate_policy

policy_file_option = click.option(
    "--file",
    "policy_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The policy YAML file.",
)


def read_policy_file(path: Path) -> str:
    """The file's text; of a file past the size bound only enough to be refused as such."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_POLICY_BYTES + 1)
        if len(data) > MAX_POLICY_BYTES:
            return data.decode("utf-8", "replace")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.FileError(str(path), hint=str(exc)) from exc


@click.group()
def policy() -> None:
    """Manage policies: what each owner's agents may do.

    \b
    Examples:
      openleash policy validate --file policy.yaml
      openleash policy test tests/shopping.yaml
      openleash policy replay --candidate stricter.yaml --since 7d
      openleash policy upsert --file policy.yaml
      openleash policy upsert --file strict.yaml --applies-to-agent my-agent
    """


policy.add_command(test_command)
policy.add_command(replay_command)


@policy.command("list")
@click.option("--owner", "owner_id", default=None, help="Only the policies of this owner.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with each policy's YAML).")
@data_dir_option
@config_option
@fails_cleanly
def list_command(
    owner_id: str | None, as_json: bool, data_dir: Path | None, config_path: Path | None
) -> None:
    """List stored policies with their owner and the agent they apply to."""
    policies = run_with_services(
        settings_for(data_dir, config_path), lambda s: s.policies.list_for(owner_id)
    )
    if as_json:
        print_json({"policies": [policy_view(p, with_yaml=True) for p in policies]})
        return
    if not policies:
        click.echo("No policies. Add one with: openleash policy upsert --file FILE")
        return
    for p in policies:
        applies = p.applies_to_agent_principal_id or "all agents"
        name = f"  {p.name}" if p.name else ""
        click.echo(
            f"{p.policy_id}  owner {p.owner_id}  applies to {applies}  updated {p.updated_at}{name}"
        )


@policy.command("show")
@click.argument("policy_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with the policy's details.")
@data_dir_option
@config_option
@fails_cleanly
def show_command(
    policy_id: str, as_json: bool, data_dir: Path | None, config_path: Path | None
) -> None:
    """Print the YAML of policy POLICY_ID."""
    found = run_with_services(
        settings_for(data_dir, config_path), lambda s: s.policies.get(policy_id)
    )
    if as_json:
        print_json(policy_view(found, with_yaml=True))
    else:
        click.echo(found.policy_yaml, nl=not found.policy_yaml.endswith("\n"))


@policy.command("upsert")
@policy_file_option
@click.option(
    "--owner",
    "owner_id",
    default=None,
    help="Owner (user principal id) of a new policy. Default: the only owner, if "
    "there is exactly one.",
)
@click.option(
    "--applies-to-agent",
    default=None,
    help="Bind to one agent (agent id or agent principal id) instead of all the owner's agents.",
)
@click.option(
    "--policy-id",
    default=None,
    help="Update this policy in place (its bindings stay); if no policy has this "
    "id, create one with it.",
)
@click.option("--name", default=None, help="A name to show in lists.")
@click.option(
    "--observe",
    is_flag=True,
    help="Shadow mode for a new policy: evaluate it next to the enforcing ones and record its "
    "would-be decision in the audit log, without ever enforcing it.",
)
@data_dir_option
@config_option
@fails_cleanly
def upsert_command(
    policy_file: Path,
    owner_id: str | None,
    applies_to_agent: str | None,
    policy_id: str | None,
    name: str | None,
    observe: bool,
    data_dir: Path | None,
    config_path: Path | None,
) -> None:
    """Validate a policy file, then store it: update --policy-id, or create a new policy
    bound to the owner (or to one agent).

    Safe while the server runs: it picks up the change on its next request."""
    policy_yaml = read_policy_file(policy_file)

    command = PolicyUpsert(
        policy_yaml,
        owner_id=owner_id,
        policy_id=policy_id,
        applies_to_agent=applies_to_agent,
        name=name,
        mode="observe" if observe else "enforce",
    )

    async def work(s: Services) -> PolicyRecord:
        return await s.operator.upsert_policy(command)

    try:
        stored = run_with_services(settings_for(data_dir, config_path), work)
    except OpenLeashError as exc:
        if exc.details and "owners" in exc.details:
            _explain_owner_choice(exc)
        raise
    applies = stored.applies_to_agent_principal_id or "all the owner's agents"
    shadow = ", observed only (shadow mode)" if observe else ""
    click.echo(
        f"Stored policy {stored.policy_id} (owner {stored.owner_id}, applies to {applies}{shadow})."
    )


def _explain_owner_choice(exc: OpenLeashError) -> None:
    listed = (exc.details or {})["owners"]
    owners = listed if isinstance(listed, list) else []
    if not owners:
        click.echo(
            "error: no owner exists yet. Create one with `openleash init` or "
            "`openleash wizard`, then run this again.",
            err=True,
        )
    else:
        click.echo(f"error: {len(owners)} owners exist; pass --owner with one of:", err=True)
        for o in owners:
            click.echo(f"  {o['user_principal_id']}  {o['display_name']}", err=True)
    sys.exit(1)


@policy.command("validate")
@policy_file_option
def validate_command(policy_file: Path) -> None:
    """Check a policy file without storing it. Exit status 1 when it is invalid, with each
    problem and its line."""
    try:
        summary = validate_policy(read_policy_file(policy_file))
    except PolicyError as exc:
        count = len(exc.issues)
        click.echo(
            f"invalid: {count} problem{'s' if count != 1 else ''}"
            if count
            else f"invalid: {exc.message}"
        )
        for issue in exc.issues:
            line = f"line {issue['line']}: " if issue.get("line") else ""
            click.echo(f"  {line}{issue.get('path') or '(top)'}: {issue['message']}")
        sys.exit(1)
    rules = summary.rules
    click.echo(f"valid: {rules} rule{'s' if rules != 1 else ''}, default {summary.default}")


@policy.command("delete")
@click.argument("policy_id_arg", metavar="[POLICY_ID]", required=False)
@click.option("--policy-id", default=None, help="The policy to delete (or give it as argument).")
@data_dir_option
@config_option
@fails_cleanly
def delete_command(
    policy_id_arg: str | None,
    policy_id: str | None,
    data_dir: Path | None,
    config_path: Path | None,
) -> None:
    """Delete a policy and all its bindings."""
    if policy_id_arg and policy_id and policy_id_arg != policy_id:
        raise click.UsageError("Give the policy id once: as argument or with --policy-id.")
    target = policy_id or policy_id_arg
    if not target:
        raise click.UsageError("Which policy? Pass --policy-id ID (see `openleash policy list`).")
    run_with_services(
        settings_for(data_dir, config_path),
        lambda s: s.policies.delete(target),
    )
    click.echo(f"Deleted policy {target} and its bindings.")
