"""``openleash keys``: the server's token-signing keys."""

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
from openleash.domain.errors import OpenLeashError
from openleash.domain.models import ServerKey


@click.group()
def keys() -> None:
    """Manage the keys the server signs proof, approval and session tokens with.

    One key is active and signs; every key not revoked still verifies what it signed.
    """


def _state(key: ServerKey) -> str:
    if key.revoked_at:
        return f"revoked {key.revoked_at}"
    return "active" if key.active else "verifies only"


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@config_option
@fails_cleanly
def list_command(as_json: bool, data_dir: Path | None, config_path: Path | None) -> None:
    """List the keys, oldest first."""
    found = run_with_services(settings_for(data_dir, config_path), lambda s: s.keys.list_all())
    if as_json:
        print_json([{**k.public_view(), "active": k.active} for k in found])
        return
    for key in found:
        click.echo(f"{key.kid}  created {key.created_at}  {_state(key)}")


@keys.command("rotate")
@data_dir_option
@config_option
@fails_cleanly
def rotate_command(data_dir: Path | None, config_path: Path | None) -> None:
    """Make a new active key. Earlier keys keep verifying until revoked."""
    key = run_with_services(settings_for(data_dir, config_path), lambda s: s.keys.rotate())
    click.echo(
        f"New active key {key.kid}. Earlier keys still verify; revoke them with "
        "`openleash keys revoke KID` once their tokens have expired."
    )


@keys.command("revoke")
@click.argument("kid")
@data_dir_option
@config_option
@fails_cleanly
def revoke_command(kid: str, data_dir: Path | None, config_path: Path | None) -> None:
    """Revoke key KID: nothing it signed verifies any more.

    The active key cannot be revoked: run `openleash keys rotate` first."""
    try:
        run_with_services(settings_for(data_dir, config_path), lambda s: s.keys.revoke(kid))
    except OpenLeashError as exc:
        if exc.code != "KEY_ACTIVE":
            raise
        raise click.ClickException(
            f"{kid} is the active key and cannot be revoked. Run `openleash keys rotate` "
            "first, then revoke it."
        ) from exc
    click.echo(f"Revoked key {kid}.")
