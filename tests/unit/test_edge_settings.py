"""The server's edge settings: public URL, trusted proxies, connection limits, start warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from openleash.cli.server import server_config, startup_warnings
from openleash.config import load_settings
from openleash.domain.errors import OpenLeashError


def test_the_public_url_defaults_to_loopback_on_the_port(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('server: { bind_address: "0.0.0.0:9000" }\n')
    assert load_settings(config_path=path, env={}).base_url == "http://127.0.0.1:9000"
    moved = load_settings(config_path=path, env={"OPENLEASH_BIND_ADDRESS": "[::]:7000"})
    assert (moved.host, moved.port, moved.base_url) == ("::", 7000, "http://127.0.0.1:7000")


def test_public_url_and_proxies_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "server:\n  public_url: https://Leash.Example.com/\n  trusted_proxies: [10.0.0.1]\n"
        "  header_timeout_seconds: 3\n"
    )
    settings = load_settings(config_path=path, env={})
    assert settings.base_url == "https://leash.example.com"
    assert settings.trusted_proxies == ("10.0.0.1/32",)
    assert settings.connection_limits.header_timeout == 3
    env = {"OPENLEASH_PUBLIC_URL": "http://a.example:8080", "OPENLEASH_TRUSTED_PROXIES": ""}
    settings = load_settings(config_path=path, env=env)
    assert (settings.base_url, settings.trusted_proxies) == ("http://a.example:8080", ())


@pytest.mark.parametrize(
    "url", ["ftp://x.example", "https://x.example/path", "x.example", "https://u@x.example"]
)
def test_a_public_url_that_is_not_a_site_root_is_refused(url: str) -> None:
    with pytest.raises(OpenLeashError):
        load_settings(config_path=Path("/nonexistent"), env={"OPENLEASH_PUBLIC_URL": url})


def test_start_warns_while_admin_is_open_to_loopback_without_a_token() -> None:
    open_admin = load_settings(config_path=Path("/nonexistent"), env={})
    assert any("WITHOUT A TOKEN" in w for w in startup_warnings(open_admin))
    token_only = open_admin.with_overrides(admin_mode="token", admin_token="x" * 32)
    assert not any("WITHOUT A TOKEN" in w for w in startup_warnings(token_only))


def test_the_server_runs_with_the_configured_limits() -> None:
    settings = load_settings(config_path=Path("/nonexistent"), env={}).with_overrides(
        keep_alive_seconds=7, backlog=99, max_header_bytes=4096
    )
    config = server_config(settings, 1, "warning")
    assert (config.timeout_keep_alive, config.backlog) == (7, 99)
    assert config.limits.max_header_bytes == 4096
    assert config.proxy_headers is False
