"""``openleash audit``: verify, tail, search and export the audit log."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from openleash.bootstrap import Services
from openleash.cli.common import (
    config_option,
    data_dir_option,
    fails_cleanly,
    print_json,
    run_with_services,
    settings_for,
)
from openleash.service.audit_chain import ChainReport
from openleash.service.audit_query import AuditQuery


@click.group()
def audit() -> None:
    """Read and check the audit log.

    Every decision and every change is one record, chained to the one before it by its hash,
    with checkpoints signed by the server key: `openleash audit verify` shows whether any record
    was edited, deleted, inserted or reordered.
    """


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@data_dir_option
@config_option
@fails_cleanly
def verify_command(as_json: bool, data_dir: Path | None, config_path: Path | None) -> None:
    """Check the hash chain and the signed checkpoints. Exits 1 naming the first bad record."""
    started = time.perf_counter()
    report = run_with_services(settings_for(data_dir, config_path), lambda s: s.audit.verify())
    elapsed = time.perf_counter() - started
    if as_json:
        print_json({**report.to_wire(), "seconds": round(elapsed, 3)})
    else:
        print_chain_report(report, elapsed)
    if not report.ok:
        sys.exit(1)


def print_chain_report(report: ChainReport, elapsed: float) -> None:
    problem = report.problem
    if problem is not None:
        click.echo(f"FAILED at record {problem.seq} ({problem.kind}): {problem.message}", err=True)
        good = f"records 1 to {report.last_seq}" if report.last_seq else "no record"
        click.echo(f"{good} verified before it.", err=True)
        return
    pinned = report.last_checkpoint_seq
    click.echo(
        f"OK: {report.records} records chained ({elapsed:.1f} s), head {report.head_hash}; "
        f"{report.checkpoints_verified} signed checkpoints verified"
        + (f", the last at record {pinned}" if pinned else "")
        + (
            f"; {report.checkpoints_unverifiable} signed by revoked keys (not counted)"
            if report.checkpoints_unverifiable
            else ""
        )
        + "."
    )
    for note in report.notes:
        click.echo(f"note: {note}")


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--agent", help="Agent id or agent principal id."),
        click.option("--owner", help="Owner (user principal) id."),
        click.option("--event-type", help="Record type, e.g. DECISION_CREATED."),
        click.option("--action-type", help="Action type of decisions, e.g. purchase."),
        click.option("--result", help="Decision result, e.g. ALLOW or DENY."),
        click.option("--since", help="From this time: ISO-8601, a date, or 30m / 12h / 7d ago."),
        click.option("--until", help="Before this time (same forms as --since)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _query(filters: dict[str, str | None]) -> AuditQuery:
    return AuditQuery(**filters)


@audit.command("tail")
@click.option("-n", "count", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--follow", "-f", is_flag=True, help="Keep printing records as they are written.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@data_dir_option
@config_option
@fails_cleanly
def tail_command(
    count: int, follow: bool, as_json: bool, data_dir: Path | None, config_path: Path | None
) -> None:
    """Print the newest records, oldest first; with --follow, new ones as they come."""

    async def work(s: Services) -> None:
        async for row in s.audit.tail(count, follow=follow):
            record = row.to_wire()
            click.echo(_json_line(record) if as_json else _line(record))

    with contextlib.suppress(KeyboardInterrupt):  # --follow ends with Ctrl-C
        run_with_services(settings_for(data_dir, config_path), work)


@audit.command("search")
@_filter_options
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@data_dir_option
@config_option
@fails_cleanly
def search_command(
    limit: int, as_json: bool, data_dir: Path | None, config_path: Path | None, **filters: Any
) -> None:
    """Find records, newest first."""
    rows = run_with_services(
        settings_for(data_dir, config_path),
        lambda s: s.audit.search(_query(filters), limit=limit, now=s.options.clock()),
    )
    found = [{"seq": seq, **event.to_wire()} for seq, event in rows]
    if as_json:
        print_json(found)
        return
    for record in found:
        click.echo(_line(record))


@audit.command("export")
@_filter_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: standard output).",
)
@data_dir_option
@config_option
@fails_cleanly
def export_command(
    output: Path | None, data_dir: Path | None, config_path: Path | None, **filters: Any
) -> None:
    """Write matching records as JSON Lines, oldest first, with their hashes."""

    async def work(s: Services) -> int:
        with _sink(output) as write:
            written = 0
            async for row in s.audit.export(_query(filters), now=s.options.clock()):
                write(_json_line(row.to_wire()))
                written += 1
            return written

    written = run_with_services(settings_for(data_dir, config_path), work)
    if output is not None:
        click.echo(f"Wrote {written} records to {output}.", err=True)


@contextlib.contextmanager
def _sink(output: Path | None) -> Iterator[Callable[[str], None]]:
    """Where export lines go: the file, or standard output."""
    if output is None:
        yield click.echo
        return
    with output.open("w", encoding="utf-8") as file:

        def write(line: str) -> None:
            file.write(line + "\n")

        yield write


def _json_line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _line(record: Mapping[str, Any]) -> str:
    meta = record.get("metadata_json") or {}
    parts = [str(record["seq"]), record["timestamp"], record["event_type"]]
    if "result" in meta:
        parts.append(str(meta["result"]))
    if "action_type" in meta:
        parts.append(str(meta["action_type"]))
    who = meta.get("agent_id") or record.get("principal_id")
    if who:
        parts.append(f"agent={who}")
    if meta.get("owner_id"):
        parts.append(f"owner={meta['owner_id']}")
    if meta.get("reason"):
        parts.append(f"- {meta['reason']}")
    return "  ".join(parts)
