"""Settings: defaults, config.yaml with the TypeScript keys, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from openleash.config import DEFAULT_CONFIG_YAML, load_settings
from openleash.domain.errors import OpenLeashError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_settings(config_path=tmp_path / "absent.yaml", env={})
    assert (settings.host, settings.port) == ("127.0.0.1", 8787)
    assert settings.admin_mode == "localhost_or_token"
    assert settings.database == str(Path("data") / "openleash.db")


def test_the_documented_defaults_file_reads_as_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(DEFAULT_CONFIG_YAML)
    assert load_settings(config_path=path, env={}) == load_settings(
        config_path=tmp_path / "absent.yaml", env={}
    )


def test_file_values_and_environment_overrides(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        'server: { bind_address: "0.0.0.0:9000" }\n'
        "admin: { mode: token, token: abc }\n"
        "security: { clock_skew_seconds: 30 }\n"
        "tokens: { default_ttl_seconds: 60, max_ttl_seconds: 600 }\n"
    )
    env = {"OPENLEASH_DATABASE_URL": "sqlite:///x.db", "OPENLEASH_ADMIN_TOKEN": "from-env"}
    settings = load_settings(config_path=path, env=env)
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.admin_mode == "token"
    assert settings.admin_token == "from-env"
    assert settings.clock_skew_seconds == 30
    assert (settings.default_ttl_seconds, settings.max_ttl_seconds) == (60, 600)
    assert settings.database == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("admin: { mode: open }\n", "admin.mode"),
        ("server: { bind_address: nowhere }\n", "server.bind_address"),
        ("security: { nonce_ttl_seconds: -1 }\n", "security.nonce_ttl_seconds"),
        ("tokens: [1, 2]\n", "`tokens` must be a mapping"),
        ("server: [\n", "config.yaml"),
    ],
)
def test_bad_settings_say_what_to_fix(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(OpenLeashError) as caught:
        load_settings(config_path=path, env={})
    assert fragment in caught.value.message


def test_admin_token_is_not_in_the_repr(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("admin: { token: very-secret }\n")
    assert "very-secret" not in repr(load_settings(config_path=path, env={}))


def test_database_password_is_not_in_the_repr(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("store: { url: 'postgresql://openleash:db-secret@db.internal/openleash' }\n")
    from_file = load_settings(config_path=path, env={})
    from_env = load_settings(
        config_path=tmp_path / "absent.yaml",
        env={"OPENLEASH_DATABASE_URL": "postgresql://u:env-secret@db/openleash"},
    )
    assert from_file.store_url.endswith("@db.internal/openleash")
    assert "db-secret" not in repr(from_file)
    assert "env-secret" not in repr(from_env)


def test_a_nonce_ttl_shorter_than_the_replay_window_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("security: { nonce_ttl_seconds: 200, clock_skew_seconds: 120 }\n")
    with pytest.raises(OpenLeashError) as caught:
        load_settings(config, tmp_path, env={})
    assert "nonce_ttl_seconds" in caught.value.message
    assert "twice" in caught.value.message


def test_limits_anonymous_per_minute_is_read(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("limits: { anonymous_per_minute: 7 }\n")
    assert load_settings(config, tmp_path, env={}).anonymous_per_minute == 7


def test_the_store_timeout_is_read_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    assert load_settings(config_path=path, env={}).store_timeout_seconds == 5.0
    path.write_text("store: { timeout_seconds: 0.25 }\n")
    assert load_settings(config_path=path, env={}).store_timeout_seconds == 0.25
    path.write_text("store: { timeout_seconds: 2 }\n")
    assert load_settings(config_path=path, env={}).store_timeout_seconds == 2.0


@pytest.mark.parametrize("value", ["0", "-1", "true", "soon", "7200"])
def test_a_store_timeout_that_is_no_sensible_wait_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"store: {{ timeout_seconds: {value} }}\n")
    with pytest.raises(OpenLeashError) as caught:
        load_settings(config_path=path, env={})
    assert "store.timeout_seconds" in caught.value.message
