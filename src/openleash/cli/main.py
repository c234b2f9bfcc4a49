"""Entry point of the ``openleash`` command."""

from __future__ import annotations

import click

from openleash import __version__
from openleash.cli.audit import audit
from openleash.cli.keys import keys
from openleash.cli.mcp import mcp_proxy
from openleash.cli.migrate_store import migrate_store_command
from openleash.cli.owner import owner
from openleash.cli.playground import playground
from openleash.cli.policy import policy
from openleash.cli.server import start
from openleash.cli.setup import init, wizard
from openleash.cli.vectors import testvectors


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="openleash")
def cli() -> None:
    """OpenLeash: per-action authorization for AI agents.

    Commands work in the current folder: data in ./data, settings in ./config.yaml.
    """


for command in (start, init, wizard, owner, policy, keys, audit, playground, testvectors):
    cli.add_command(command)
cli.add_command(mcp_proxy)
cli.add_command(migrate_store_command)


def main() -> None:
    cli()
