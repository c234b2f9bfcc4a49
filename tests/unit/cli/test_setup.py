"""`openleash init` and `openleash wizard`: owner, agent and policy, then the credentials."""

from __future__ import annotations

import stat
from pathlib import Path

from openleash.config import load_settings
from openleash.crypto import public_key_b64_of

from .conftest import Cli, env_file

ENV_KEYS = {
    "OPENLEASH_URL",
    "OPENLEASH_AGENT_ID",
    "OPENLEASH_AGENT_PRIVATE_KEY_B64",
    "USER_PRINCIPAL_ID",
}


def lines(*answers: str) -> str:
    return "".join(f"{answer}\n" for answer in answers)


def test_init_creates_owner_agent_and_owner_wide_policy(run: Cli, tmp_path: Path) -> None:
    target = tmp_path / "agent.env"
    result = run(
        "init", "--owner-name", "Alice", "--agent-id", "shop-bot", "--output-env", str(target)
    )

    assert result.exit_code == 0, result.output
    env = env_file(target)
    assert set(env) == ENV_KEYS
    assert env["OPENLEASH_URL"] == "http://127.0.0.1:8787"
    assert env["OPENLEASH_AGENT_ID"] == "shop-bot"
    owners = run.query(lambda s: s.accounts.list_owners())
    assert [(o.user_principal_id, o.display_name) for o in owners] == [
        (env["USER_PRINCIPAL_ID"], "Alice")
    ]
    (agent,) = run.query(lambda s: s.registration.agents())
    assert (agent.agent_id, agent.status, agent.owner_id) == (
        "shop-bot",
        "ACTIVE",
        env["USER_PRINCIPAL_ID"],
    )
    (policy,) = run.query(lambda s: s.policies.list_for())
    assert policy.owner_id == env["USER_PRINCIPAL_ID"]
    assert policy.applies_to_agent_principal_id is None
    assert "purchase_small_allow" in policy.policy_yaml


def test_init_env_file_is_private_and_holds_the_registered_key(run: Cli, tmp_path: Path) -> None:
    target = tmp_path / "agent.env"
    result = run("init", "--owner-name", "Alice", "--agent-id", "bot", "--output-env", str(target))

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    private_key = env_file(target)["OPENLEASH_AGENT_PRIVATE_KEY_B64"]
    assert private_key not in result.stdout
    assert private_key not in result.stderr

    async def stored_key(s):  # type: ignore[no-untyped-def]
        async with s.store.transaction() as tx:
            return (await tx.find_active_agent("bot")).public_key_b64

    assert run.query(stored_key) == public_key_b64_of(private_key)


def test_init_without_output_env_prints_only_the_variables_on_stdout(run: Cli) -> None:
    result = run(
        "init", "--owner-name", "Bob", "--agent-id", "bot", "--policy-profile", "conservative"
    )

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert {line.split("=", 1)[0] for line in lines} == ENV_KEYS
    assert "Owner   Bob" in result.stderr
    (policy,) = run.query(lambda s: s.policies.list_for())
    assert "appointment" not in policy.policy_yaml


def test_init_refuses_to_replace_an_env_file_before_creating_anything(
    run: Cli, tmp_path: Path
) -> None:
    target = tmp_path / "agent.env"
    target.write_text("KEEP=1\n")

    result = run("init", "--owner-name", "A", "--agent-id", "bot", "--output-env", str(target))

    assert result.exit_code != 0
    assert "--force" in result.output
    assert target.read_text() == "KEEP=1\n"
    assert run.query(lambda s: s.accounts.list_owners()) == []


def test_init_with_an_agent_id_of_another_owner_fails_and_leaves_nothing(run: Cli) -> None:
    assert run("init", "--owner-name", "A", "--agent-id", "bot").exit_code == 0

    result = run("init", "--owner-name", "B", "--agent-id", "bot")

    assert result.exit_code == 1
    assert "AGENT_ID_TAKEN" in result.stderr
    owners = run.query(lambda s: s.accounts.list_owners())
    assert [o.display_name for o in owners] == ["A"]
    assert len(run.query(lambda s: s.policies.list_for())) == 1


def test_init_rejects_an_empty_owner_name(run: Cli) -> None:
    result = run("init", "--owner-name", " ", "--agent-id", "bot")

    assert result.exit_code == 1
    assert "owner name" in result.stderr
    too_long = run("init", "--owner-name", "x" * 201, "--agent-id", "bot")
    assert too_long.exit_code == 1
    assert "1 to 200 characters" in too_long.stderr


def test_wizard_sets_up_token_admin_and_runs_a_demo(run: Cli, tmp_path: Path) -> None:
    answers = lines(
        "Carol",  # owner name
        "helper",  # agent id
        "n",  # generate a key pair
        "autonomous",  # profile
        "token",  # admin mode
        "creds.env",  # credentials file
    )

    result = run("wizard", input=answers)

    assert result.exit_code == 0, result.output
    config = tmp_path / "config.yaml"
    settings = load_settings(config_path=config, env={})
    assert settings.admin_mode == "token"
    assert len(settings.admin_token) >= 32
    assert settings.admin_token not in result.output
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    env = env_file(tmp_path / "creds.env")
    assert env["OPENLEASH_AGENT_ID"] == "helper"
    assert env["OPENLEASH_AGENT_PRIVATE_KEY_B64"] not in result.output
    assert "small_purchase_allowed: ALLOW" in result.output
    assert "large_purchase_requires_approval: REQUIRE_APPROVAL" in result.output
    (agent,) = run.query(lambda s: s.registration.agents())
    assert agent.owner_id == env["USER_PRINCIPAL_ID"]


def test_wizard_keeps_other_settings_and_imports_a_key(run: Cli, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text('server:\n  bind_address: "127.0.0.1:9999"\nsessions:\n  ttl_seconds: 60\n')
    private_key = "MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    answers = lines(
        "Dan",  # owner name
        "importer",  # agent id
        "y",  # import a key
        "not-a-key",  # refused: asked again
        private_key,
        "balanced",  # profile
        "localhost",  # admin mode
        "-",  # print the credentials
        "y",  # update config.yaml
    )

    result = run("wizard", input=answers)

    assert result.exit_code == 0, result.output
    settings = load_settings(config_path=config, env={})
    assert (settings.port, settings.session_ttl_seconds) == (9999, 60)
    assert (settings.admin_mode, settings.admin_token) == ("localhost", "")
    assert f"OPENLEASH_AGENT_PRIVATE_KEY_B64={private_key}" in result.output
    assert "OPENLEASH_URL=http://127.0.0.1:9999" in result.output

    async def stored_key(s):  # type: ignore[no-untyped-def]
        async with s.store.transaction() as tx:
            return (await tx.find_active_agent("importer")).public_key_b64

    assert run.query(stored_key) == public_key_b64_of(private_key)
