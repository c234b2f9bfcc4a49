"""``store.url: memory:`` (the in-memory store, for tests and demos) where the CLI would assume
a store that is kept: refused with a message that says what to set instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openleash.cli.server import startup_warnings
from openleash.config import load_settings

from .conftest import Cli


@pytest.fixture
def in_memory(run: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("OPENLEASH_DATABASE_URL", "memory:")
    return run


@pytest.mark.parametrize(
    "command", [("keys", "list"), ("keys", "rotate"), ("audit", "verify"), ("policy", "list")]
)
def test_commands_on_the_store_are_refused(in_memory: Cli, command: tuple[str, ...]) -> None:
    result = in_memory(*command)

    assert result.exit_code == 1
    assert "store.url is memory:" in result.stderr
    assert "VALIDATION_ERROR" in result.stderr
    assert not in_memory.data_dir.exists(), "refused before anything was opened"


def test_migrate_store_has_nothing_to_copy_from_memory(in_memory: Cli) -> None:
    result = in_memory("migrate-store", "--to", "postgresql://nobody@127.0.0.1:9/none")

    assert result.exit_code == 1
    assert "keeps nothing to copy" in result.stderr
    assert "--from" in result.stderr


def test_start_refuses_several_workers_over_memory(in_memory: Cli) -> None:
    result = in_memory("start", "--workers", "2", "--port", "9")

    assert result.exit_code == 1
    assert "--workers above 1 needs a store that is kept" in result.stderr


def test_start_warns_that_nothing_is_kept(tmp_path: Path) -> None:
    memory = load_settings(
        config_path=tmp_path / "none.yaml", env={"OPENLEASH_DATABASE_URL": "memory:"}
    )
    kept = load_settings(config_path=tmp_path / "none.yaml", env={})

    assert any("gone when the server stops" in w for w in startup_warnings(memory))
    assert not any("gone when the server stops" in w for w in startup_warnings(kept))


def test_the_playground_uses_a_profile_rather_than_an_empty_store(in_memory: Cli) -> None:
    result = in_memory("playground", "run", "small_purchase_allowed", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["decision"]["result"] == "ALLOW"
