"""`openleash policy`: list, show, upsert, validate and delete through the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openleash.bootstrap import Services
from openleash.policy.parser import MAX_POLICY_BYTES
from openleash.service.policies import policy_view

from .conftest import Cli

ALLOW_PURCHASES = """\
version: 1
default: deny
rules:
  - id: allow_purchases
    effect: allow
    action: purchase
"""

BROKEN = """\
version: 1
default: deny
rules:
  - id: oops
    effect: perhaps
    action: purchase
"""


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(ALLOW_PURCHASES)
    return path


@pytest.fixture
def owner(run: Cli) -> str:
    result = run("init", "--owner-name", "Alice", "--agent-id", "bot")
    assert result.exit_code == 0, result.output
    return next(
        line.split("=", 1)[1]
        for line in result.stdout.splitlines()
        if line.startswith("USER_PRINCIPAL_ID=")
    )


def stored(run: Cli) -> list[dict]:  # type: ignore[type-arg]
    return run.query(_listed)  # type: ignore[no-any-return]


async def _listed(s: Services) -> list[dict[str, Any]]:
    return [policy_view(p, with_yaml=True) for p in await s.policies.list_for()]


def test_validate_accepts_a_good_policy(run: Cli, policy_file: Path) -> None:
    result = run("policy", "validate", "--file", str(policy_file), store=False)

    assert result.exit_code == 0
    assert result.output == "valid: 1 rule, default deny\n"


def test_validate_names_the_line_of_a_problem(run: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)

    result = run("policy", "validate", "--file", str(broken), store=False)

    assert result.exit_code == 1
    assert result.output.startswith("invalid:")
    assert "line 5" in result.output
    assert "effect" in result.output


def test_upsert_defaults_to_the_only_owner(run: Cli, owner: str, policy_file: Path) -> None:
    result = run("policy", "upsert", "--file", str(policy_file), "--name", "shopping")

    assert result.exit_code == 0, result.output
    new = [p for p in stored(run) if p["name"] == "shopping"]
    assert len(new) == 1
    assert new[0]["owner_id"] == owner
    assert new[0]["policy_yaml"] == ALLOW_PURCHASES
    assert new[0]["policy_id"] in result.output


def test_upsert_binds_to_one_agent_by_agent_id(run: Cli, owner: str, policy_file: Path) -> None:
    result = run(
        "policy",
        "upsert",
        "--file",
        str(policy_file),
        "--owner",
        owner,
        "--applies-to-agent",
        "bot",
    )

    assert result.exit_code == 0, result.output
    assert any(p["applies_to_agent_principal_id"] for p in stored(run))


def test_upsert_updates_a_policy_in_place(run: Cli, owner: str, tmp_path: Path) -> None:
    (first,) = stored(run)
    changed = tmp_path / "changed.yaml"
    changed.write_text(ALLOW_PURCHASES.replace("default: deny", "default: require_approval"))

    result = run("policy", "upsert", "--file", str(changed), "--policy-id", first["policy_id"])

    assert result.exit_code == 0, result.output
    (after,) = stored(run)
    assert after["policy_id"] == first["policy_id"]
    assert "require_approval" in after["policy_yaml"]


def test_upsert_rejects_an_invalid_policy_and_stores_nothing(
    run: Cli, owner: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)

    result = run("policy", "upsert", "--file", str(broken))

    assert result.exit_code == 1
    assert "line 5" in result.stderr
    assert len(stored(run)) == 1


def test_upsert_without_owners_says_how_to_make_one(run: Cli, policy_file: Path) -> None:
    result = run("policy", "upsert", "--file", str(policy_file))

    assert result.exit_code == 1
    assert "openleash init" in result.stderr


def test_upsert_with_several_owners_lists_them(run: Cli, owner: str, policy_file: Path) -> None:
    assert run("init", "--owner-name", "Bob", "--agent-id", "bob-bot").exit_code == 0

    result = run("policy", "upsert", "--file", str(policy_file))

    assert result.exit_code == 1
    assert "--owner" in result.stderr
    assert owner in result.stderr
    assert "Bob" in result.stderr


def test_list_and_show(run: Cli, owner: str) -> None:
    (policy,) = stored(run)

    listed = run("policy", "list")
    shown = run("policy", "show", policy["policy_id"])

    assert listed.exit_code == 0
    assert policy["policy_id"] in listed.output
    assert "all agents" in listed.output
    assert shown.exit_code == 0
    assert shown.output == policy["policy_yaml"]


def test_list_when_empty_says_how_to_add(run: Cli) -> None:
    result = run("policy", "list")

    assert result.exit_code == 0
    assert "policy upsert" in result.output


def test_show_unknown_policy_fails(run: Cli) -> None:
    result = run("policy", "show", "no-such-policy")

    assert result.exit_code == 1
    assert "POLICY_NOT_FOUND" in result.stderr


@pytest.mark.parametrize("style", ["option", "argument"])
def test_delete(run: Cli, owner: str, style: str) -> None:
    (policy,) = stored(run)
    args = ["--policy-id", policy["policy_id"]] if style == "option" else [policy["policy_id"]]

    result = run("policy", "delete", *args)

    assert result.exit_code == 0, result.output
    assert stored(run) == []


def test_delete_needs_a_policy_id(run: Cli) -> None:
    result = run("policy", "delete")

    assert result.exit_code == 2
    assert "--policy-id" in result.output


def test_upsert_observe_creates_a_shadow_binding(run: Cli, owner: str, policy_file: Path) -> None:
    result = run("policy", "upsert", "--file", str(policy_file), "--observe")

    assert result.exit_code == 0, result.output
    assert "shadow mode" in result.output

    async def modes(s: Services) -> list[str]:
        async with s.store.read() as tx:
            return sorted(b.mode for b in await tx.list_bindings("user", owner))

    assert run.query(modes) == ["enforce", "observe"]


def test_validate_refuses_a_misspelt_obligation_with_its_line(run: Cli, tmp_path: Path) -> None:
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text(ALLOW_PURCHASES + "    obligations: [{ type: human_aproval }]\n")

    result = run("policy", "validate", "--file", str(misspelt), store=False)

    assert result.exit_code == 1
    assert "line 7: rules[0].obligations[0].type" in result.output


def test_validate_refuses_a_file_over_the_size_bound(run: Cli, tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text(ALLOW_PURCHASES + "#" * (MAX_POLICY_BYTES * 4) + "\n")

    result = run("policy", "validate", "--file", str(huge), store=False)

    assert result.exit_code == 1
    assert f"larger than {MAX_POLICY_BYTES} bytes" in result.output
