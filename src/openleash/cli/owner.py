"""``openleash owner``: owners (users) and their passphrases, from the server's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypedDict

import click

from openleash.cli.common import (
    config_option,
    data_dir_option,
    fails_cleanly,
    print_json,
    run_with_services,
    settings_for,
)
from openleash.domain.models import Owner
from openleash.service.owner_auth import OwnerAccounts, OwnerSetup


class OwnerJson(TypedDict):
    """An owner as ``openleash owner list --json`` prints it (the API's ``User``)."""

    user_principal_id: str
    display_name: str
    status: str
    identity_assurance_level: Literal["NONE"]
    created_at: str
    system_roles: list[str]


class OwnerListJson(TypedDict):
    users: list[OwnerJson]


@click.group()
def owner() -> None:
    """Owners: the people whose agents ask, and who answer approval requests."""


@owner.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@config_option
@fails_cleanly
def list_command(as_json: bool, data_dir: Path | None, config_path: Path | None) -> None:
    """List owners with their ids (the id is the login name in the portal)."""
    found = run_with_services(settings_for(data_dir, config_path), lambda s: _owners(s.accounts))
    if as_json:
        print_json(found)
        return
    for user in found["users"]:
        click.echo(f"{user['user_principal_id']}  {user['display_name']}  {user['status']}")


def _owner_json(owner: Owner) -> OwnerJson:
    return {
        "user_principal_id": owner.user_principal_id,
        "display_name": owner.display_name,
        "status": owner.status,
        "identity_assurance_level": "NONE",
        "created_at": owner.created_at,
        "system_roles": [],
    }


async def _owners(accounts: OwnerAccounts) -> OwnerListJson:
    return {"users": [_owner_json(o) for o in await accounts.list_owners()]}


async def _set_passphrase(accounts: OwnerAccounts, owner_id: str, passphrase: str) -> None:
    # The same path as a setup invite redeemed by the owner: audited, and every open session
    # of the owner ends.
    invite = await accounts.setup_invite(owner_id)
    setup = OwnerSetup.from_body(
        {
            "invite_id": invite.invite_id,
            "invite_token": invite.invite_token,
            "passphrase": passphrase,
        }
    )
    await accounts.set_up(setup)


@owner.command("passphrase")
@click.option("--owner", "owner_id", required=True, help="The owner's id (openleash owner list).")
@click.option(
    "--passphrase",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for when not given (at least 12 characters).",
)
@data_dir_option
@config_option
@fails_cleanly
def passphrase_command(
    owner_id: str, passphrase: str, data_dir: Path | None, config_path: Path | None
) -> None:
    """Set (or reset) an owner's passphrase for the portal and the owner API."""
    run_with_services(
        settings_for(data_dir, config_path),
        lambda s: _set_passphrase(s.accounts, owner_id, passphrase),
    )
    click.echo(f"Passphrase set. Log in at /gui/login with the id {owner_id}.")
