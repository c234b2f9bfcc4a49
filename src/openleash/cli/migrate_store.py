"""``openleash migrate-store``: copy a SQLite deployment into PostgreSQL."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from openleash.bootstrap import (
    BATCH_ROWS,
    CopiedTable,
    StoreMigration,
    check_copy_target,
    copy_sqlite_into_postgres,
    shown_url,
    sqlite_copy_source,
)
from openleash.cli.audit import print_chain_report
from openleash.cli.common import config_option, data_dir_option, fails_cleanly, settings_for


@click.command("migrate-store")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The empty PostgreSQL database to copy into (postgresql://user@host:port/db).",
)
@click.option(
    "--from",
    "source",
    default=None,
    metavar="PATH",
    help="The SQLite store to copy (default: the one the settings name, ./data/openleash.db).",
)
@click.option(
    "--batch-rows",
    type=click.IntRange(min=1),
    default=BATCH_ROWS,
    show_default=True,
    help="Rows sent per COPY.",
)
@data_dir_option
@config_option
@fails_cleanly
def migrate_store_command(
    target: str,
    source: str | None,
    batch_rows: int,
    data_dir: Path | None,
    config_path: Path | None,
) -> None:
    """Copy this SQLite deployment into an empty PostgreSQL database, every table row for row
    (the audit log with its hashes and signed checkpoints), then verify the audit chain there.

    Stop the server first: what it writes after the copy has begun is not copied. Exits 1 when
    the target is not empty or the chain does not verify on PostgreSQL. Then start the servers
    with store.url (or OPENLEASH_DATABASE_URL) set to the new database.
    """
    check_copy_target(target)
    path = sqlite_copy_source(source or settings_for(data_dir, config_path).database)
    click.echo(f"Copying {path} into {shown_url(target)}")
    done = asyncio.run(
        copy_sqlite_into_postgres(path, target, batch_rows=batch_rows, on_table=_print_table)
    )
    _print_outcome(done)
    if not done.ok:
        sys.exit(1)


def _print_table(table: CopiedTable) -> None:
    click.echo(f"  {table.name:<20} {table.rows:>12,}")


def _print_outcome(done: StoreMigration) -> None:
    click.echo(f"Copied {done.rows:,} rows in {done.seconds:.1f} s.")
    click.echo("The audit chain on PostgreSQL:")
    print_chain_report(done.chain, done.verify_seconds)
    if done.ok:
        click.echo(
            "Next: start the servers with store.url (or OPENLEASH_DATABASE_URL) set to the new "
            "database."
        )
        return
    before = done.source_chain
    if before is not None and before.problem == done.chain.problem:
        click.echo(
            "The SQLite store fails the same way: its audit log was already broken before "
            "the copy (see `openleash audit verify` there).",
            err=True,
        )
    else:
        click.echo(
            "The SQLite store verifies: the copy is not faithful. Do not use the new database.",
            err=True,
        )
