"""``openleash init`` (headless) and ``openleash wizard`` (interactive): first-run setup.

Both create an owner, an agent key pair registered directly (no invite), and a profile
policy bound to all of the owner's agents, then hand over the agent's credentials.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import click

from openleash.bootstrap import Services, options_from
from openleash.cli.common import (
    config_option,
    data_dir_option,
    fails_cleanly,
    run_with_services,
    settings_for,
)
from openleash.cli.playground import PROFILE_NAMES, load_scenario, profile_yaml
from openleash.cli.policy import read_policy_file
from openleash.config import ADMIN_MODES, Settings, load_settings
from openleash.crypto import generate_keypair, public_key_b64_of
from openleash.domain.errors import OpenLeashError
from openleash.service.public import PlaygroundRun, playground_run
from openleash.service.setup import setup_owner_and_agent

ENV_KEYS = (
    "OPENLEASH_URL",
    "OPENLEASH_AGENT_ID",
    "OPENLEASH_AGENT_PRIVATE_KEY_B64",
    "USER_PRINCIPAL_ID",
)
DEMO_SCENARIOS = ("small_purchase_allowed", "large_purchase_requires_approval")


def server_url(settings: Settings) -> str:
    """Where agents on this host reach the server."""
    host = settings.host
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - mapping a wildcard bind to loopback
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


@dataclass(frozen=True, slots=True)
class SetUp:
    """What the setup made, as the summary and the agent's environment name it."""

    owner_id: str
    owner_name: str
    agent_id: str
    agent_principal_id: str
    policy_id: str


def _setup(
    settings: Settings,
    *,
    owner_name: str,
    agent_id: str,
    public_key_b64: str,
    policy_yaml: str,
    policy_name: str,
) -> SetUp:
    async def work(s: Services) -> SetUp:
        made = await setup_owner_and_agent(
            s.store,
            owner_name=owner_name,
            agent_id=agent_id,
            public_key_b64=public_key_b64,
            policy_yaml=policy_yaml,
            options=s.options,
            policy_name=policy_name,
        )
        return SetUp(
            owner_id=made.owner.user_principal_id,
            owner_name=made.owner.display_name,
            agent_id=made.agent.agent_id,
            agent_principal_id=made.agent.agent_principal_id,
            policy_id=made.policy.policy_id,
        )

    return run_with_services(settings, work)


def agent_env(settings: Settings, made: SetUp, private_key_b64: str) -> dict[str, str]:
    return {
        "OPENLEASH_URL": server_url(settings),
        "OPENLEASH_AGENT_ID": made.agent_id,
        "OPENLEASH_AGENT_PRIVATE_KEY_B64": private_key_b64,
        "USER_PRINCIPAL_ID": made.owner_id,
    }


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (0600), replacing any earlier content."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.chmod(path, 0o600)  # an existing file keeps its old mode through os.open
        handle.write(text)


def env_text(env: dict[str, str]) -> str:
    return "".join(f"{key}={env[key]}\n" for key in ENV_KEYS)


def _summary(made: SetUp, policy_name: str, *, err: bool) -> None:
    click.echo(f"Owner   {made.owner_name}  ({made.owner_id})", err=err)
    click.echo(f"Agent   {made.agent_id}  ({made.agent_principal_id})", err=err)
    click.echo(
        f"Policy  {policy_name}  ({made.policy_id}), bound to all the owner's agents", err=err
    )


def _refuse_overwrite(path: Path | None, force: bool) -> None:
    if path is not None and path.exists() and not force:
        raise click.UsageError(
            f"{path} exists; choose another --output-env or pass --force to replace it."
        )


@click.command("init")
@click.option("--owner-name", required=True, help="Display name of the owner to create.")
@click.option("--agent-id", required=True, help="The agent's id (its X-Agent-Id header).")
@click.option(
    "--policy-profile",
    type=click.Choice(PROFILE_NAMES),
    default="balanced",
    show_default=True,
    help="The policy to bind to all the owner's agents.",
)
@click.option(
    "--output-env",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the agent's environment variables to this file (mode 0600) instead "
    "of printing them.",
)
@click.option("--force", is_flag=True, help="Replace the --output-env file if it exists.")
@data_dir_option
@config_option
@fails_cleanly
def init(
    owner_name: str,
    agent_id: str,
    policy_profile: str,
    output_env: Path | None,
    force: bool,
    data_dir: Path | None,
    config_path: Path | None,
) -> None:
    """Set up without questions: an owner, an agent key pair and a profile policy.

    Prints OPENLEASH_URL, OPENLEASH_AGENT_ID, OPENLEASH_AGENT_PRIVATE_KEY_B64 and
    USER_PRINCIPAL_ID as KEY=value lines (the summary goes to stderr), or writes them to
    --output-env. The private key exists only in that output: keep it secret.

    \b
    Example:
      openleash init --owner-name Alice --agent-id shopping-bot --output-env agent.env
    """
    _refuse_overwrite(output_env, force)
    settings = settings_for(data_dir, config_path)
    public_b64, private_b64 = generate_keypair()
    made = _setup(
        settings,
        owner_name=owner_name,
        agent_id=agent_id,
        public_key_b64=public_b64,
        policy_yaml=profile_yaml(policy_profile),
        policy_name=f"{policy_profile} profile",
    )
    # The summary goes to stderr so that stdout is exactly the KEY=value lines.
    _summary(made, f"{policy_profile} profile", err=True)
    env = agent_env(settings, made, private_b64)
    if output_env is None:
        click.echo(env_text(env), nl=False)
    else:
        write_private_file(output_env, env_text(env))
        click.echo(f"Agent credentials written to {output_env} (readable by you only).", err=True)


# -- the wizard ---------------------------------------------------------------------------------


def render_config(settings: Settings) -> str:
    """``config.yaml`` holding ``settings``: every key of the default file, plus the
    optional sections when they differ from their defaults."""
    defaults = Settings()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    lines = [
        "# OpenLeash settings. Every key is optional; see the documentation for each.",
        "server:",
        f"  bind_address: {json.dumps(f'{host}:{settings.port}')}",
        "admin:",
        f"  mode: {settings.admin_mode}   # localhost | token | localhost_or_token",
        f"  token: {json.dumps(settings.admin_token)}",
        "security:",
        f"  nonce_ttl_seconds: {settings.nonce_ttl_seconds}",
        f"  clock_skew_seconds: {settings.clock_skew_seconds}",
    ]
    if settings.require_totp != defaults.require_totp:
        lines.append(f"  require_totp: {'true' if settings.require_totp else 'false'}")
    lines += [
        "tokens:",
        f"  default_ttl_seconds: {settings.default_ttl_seconds}",
        f"  max_ttl_seconds: {settings.max_ttl_seconds}",
    ]
    approval = (settings.approval_request_ttl_seconds, settings.approval_token_ttl_seconds)
    if approval != (defaults.approval_request_ttl_seconds, defaults.approval_token_ttl_seconds):
        lines += [
            "approval:",
            f"  request_ttl_seconds: {approval[0]}",
            f"  token_ttl_seconds: {approval[1]}",
        ]
    if settings.session_ttl_seconds != defaults.session_ttl_seconds:
        lines += ["sessions:", f"  ttl_seconds: {settings.session_ttl_seconds}"]
    lines += ["store:", f"  url: {json.dumps(settings.store_url)}"]
    return "\n".join(lines) + "\n"


def _config_path(config_path: Path | None) -> Path:
    return config_path or Path(os.environ.get("OPENLEASH_CONFIG", "config.yaml"))


def _ask_key() -> tuple[str, str]:
    """Generate a key pair, or take the agent's existing private key."""
    if not click.confirm("Use an existing agent private key (base64 PKCS#8)?", default=False):
        return generate_keypair()

    def checked(text: str) -> str:
        try:
            public_key_b64_of(text.strip())
        except (OpenLeashError, ValueError) as exc:
            raise click.BadParameter("not a base64 PKCS#8 Ed25519 private key") from exc
        return text.strip()

    private_b64: str = click.prompt("Private key", hide_input=True, value_proc=checked)
    return public_key_b64_of(private_b64), private_b64


def _ask_policy() -> tuple[str, str]:
    """The policy YAML and a name for it: a profile, or a file of the user's."""
    choice: str = click.prompt(
        "Policy profile", type=click.Choice([*PROFILE_NAMES, "file"]), default="balanced"
    )
    if choice != "file":
        return profile_yaml(choice), f"{choice} profile"
    path: Path = click.prompt(
        "Policy file", type=click.Path(exists=True, dir_okay=False, path_type=Path)
    )
    return read_policy_file(path), path.name


def _ask_admin(settings: Settings) -> Settings:
    """The admin mode, and a fresh admin token when the mode accepts one."""
    mode: str = click.prompt(
        "Admin access (localhost: only from this machine; token: with the admin token)",
        type=click.Choice(ADMIN_MODES),
        default=settings.admin_mode,
    )
    token = ""
    if mode == "token" or (
        mode == "localhost_or_token"
        and click.confirm("Generate an admin token for access from other machines?", default=True)
    ):
        token = secrets.token_urlsafe(32)
    return settings.with_overrides(admin_mode=mode, admin_token=token)


def _ask_env_file() -> Path | None:
    answer: str = click.prompt(
        "Save the agent's credentials to (- to print them instead)",
        default="openleash-agent.env",
    )
    if answer.strip() in ("", "-"):
        return None
    path = Path(answer.strip())
    if path.exists() and not click.confirm(f"{path} exists. Replace it?", default=False):
        raise click.Abort
    return path


def _demo(settings: Settings, policy_yaml: str) -> None:
    click.echo("\nTrying the policy on two example actions:")
    options = options_from(settings)
    for name in DEMO_SCENARIOS:
        action = load_scenario(name)
        run = PlaygroundRun.from_body({"policy_yaml": policy_yaml, "action": action})
        decision = playground_run(run, options)["decision"]
        click.echo(f"  {name}: {decision['result']} ({decision['reason']})")


@click.command("wizard")
@data_dir_option
@config_option
@fails_cleanly
def wizard(data_dir: Path | None, config_path: Path | None) -> None:
    """Set up step by step: owner, agent key, policy, admin access.

    Writes the admin settings to config.yaml (keeping the other settings in it), creates
    the owner, agent and policy, and tries the policy on two example actions.
    """
    target = _config_path(config_path)
    # Settings as the file has them: environment overrides must not be copied into it.
    settings = load_settings(config_path=target, data_dir=data_dir, env={})
    owner_name: str = click.prompt("Owner name")
    agent_id: str = click.prompt("Agent id", default="my-agent")
    public_b64, private_b64 = _ask_key()
    policy_yaml, policy_name = _ask_policy()
    admin = _ask_admin(settings)
    env_file = _ask_env_file()
    write_config = not target.exists() or click.confirm(
        f"Update the admin settings in {target}? (other settings are kept)", default=True
    )

    run_settings = settings_for(data_dir, target)
    made = _setup(
        run_settings,
        owner_name=owner_name,
        agent_id=agent_id,
        public_key_b64=public_b64,
        policy_yaml=policy_yaml,
        policy_name=policy_name,
    )
    if write_config:
        write_private_file(target, render_config(admin))
        token_note = " with a new admin token (admin.token)" if admin.admin_token else ""
        click.echo(f"\nWrote {target}{token_note}.")
    else:
        click.echo(f"\n{target} left as it was: admin settings unchanged.")
    _summary(made, policy_name, err=False)
    env = agent_env(run_settings, made, private_b64)
    if env_file is None:
        click.echo("\nThe agent's environment (keep the private key secret):")
        click.echo(env_text(env), nl=False)
    else:
        write_private_file(env_file, env_text(env))
        click.echo(f"Agent credentials written to {env_file} (readable by you only).")
    _demo(run_settings, policy_yaml)
    where = "the variables above" if env_file is None else f"the variables in {env_file}"
    click.echo(
        f"\nNext: `openleash start`, then point the agent at {env['OPENLEASH_URL']} with {where}."
    )
