"""``openleash owner``: list owners, set a passphrase the owner can then log in with."""

from __future__ import annotations

from pathlib import Path

from openleash.bootstrap import Services
from openleash.service import owner_auth
from openleash.service.owner_auth import LoginAttempt
from tests.unit.cli.conftest import Cli, env_file


def _owner_id(run: Cli, tmp_path: Path) -> str:
    target = tmp_path / "agent.env"
    result = run("init", "--owner-name", "Alice", "--agent-id", "bot", "--output-env", str(target))
    assert result.exit_code == 0, result.output
    return str(env_file(target)["USER_PRINCIPAL_ID"])


def test_list_shows_the_owner(run: Cli, tmp_path: Path) -> None:
    owner_id = _owner_id(run, tmp_path)
    listed = run("owner", "list")
    assert listed.exit_code == 0
    assert f"{owner_id}  Alice  ACTIVE" in listed.output


def test_a_passphrase_set_here_logs_in(run: Cli, tmp_path: Path) -> None:
    owner_id = _owner_id(run, tmp_path)
    typed = "a long enough passphrase\na long enough passphrase\n"
    result = run("owner", "passphrase", "--owner", owner_id, input=typed)
    assert result.exit_code == 0, result.output
    assert "a long enough passphrase" not in result.output

    async def login(s: Services) -> str:
        attempt = LoginAttempt(owner_id, "a long enough passphrase")
        done = await s.accounts.login(
            attempt, address="127.0.0.1", locks=owner_auth.login_locks(s.options)
        )
        return done.user_principal_id

    assert run.query(login) == owner_id


def test_a_short_passphrase_or_an_unknown_owner_fails_clearly(run: Cli, tmp_path: Path) -> None:
    owner_id = _owner_id(run, tmp_path)
    short = run("owner", "passphrase", "--owner", owner_id, "--passphrase", "short")
    assert short.exit_code == 1
    assert "12" in short.output
    unknown = run("owner", "passphrase", "--owner", "nobody", "--passphrase", "x" * 20)
    assert unknown.exit_code == 1
    assert "not found" in unknown.output.lower()
