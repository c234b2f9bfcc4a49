"""`openleash audit`: verify finds every kind of tampering; tail, search and export read back."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from openleash.crypto import GENESIS_HASH, record_hash
from openleash.domain.audit import CHAINED_WIDTH, AuditRow
from openleash.domain.models import Agent, AuditEvent
from openleash.store.sql.sqlite import AuditCheckpointRule, SqliteStore

from .conftest import Cli

DOC = Path(__file__).resolve().parents[3] / "docs" / "audit.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

#: Records seeded after the KEY_CREATED record (seq 1): seqs 2 to 21.
SEEDED = 20
LAST = SEEDED + 1


def _event(n: int) -> AuditEvent:
    owner, agent = ("user-1", "ap-1") if n % 2 else ("user-2", "ap-2")
    return AuditEvent(
        event_id=f"ev-{n}",
        timestamp=f"2026-01-02T03:00:{n:02d}.000Z",  # within a minute: no time checkpoint
        event_type="DECISION_CREATED",
        principal_id=agent,
        action_id=f"act-{n}",
        decision_id=f"dec-{n}",
        metadata_json={
            "decision_id": f"dec-{n}",
            "result": "ALLOW" if n % 3 else "DENY",
            "action_type": "purchase" if n % 4 else "booking",
            "owner_id": owner,
            "agent_principal_id": agent,
            "agent_id": "agent-a" if agent == "ap-1" else "agent-b",
            "reason": f"reason {n}",
            "action": {"payload": {"amount_minor": n * 100, "note": "é"}},
        },
    )


def _seed(run: Cli, every: int = 5) -> None:
    """KEY_CREATED (seq 1, checkpointed), then SEEDED decisions with a checkpoint every 5."""
    assert run("keys", "list").exit_code == 0

    async def main() -> None:
        store = SqliteStore.open(
            _db_path(run), audit_checkpoints=AuditCheckpointRule(every_records=every)
        )
        try:
            async with store.transaction() as tx:
                await tx.add_agent(_agent("ap-1", "agent-a", "user-1"))
                await tx.add_agent(_agent("ap-2", "agent-b", "user-2"))
            for n in range(SEEDED):
                async with store.transaction() as tx:
                    await tx.append([_event(n)])
        finally:
            await store.close()

    asyncio.run(main())


def _agent(apid: str, agent_id: str, owner_id: str) -> Agent:
    return Agent(apid, agent_id, "user", owner_id, "pk", "ACTIVE", "2026-01-01T00:00:00.000Z")


def _db_path(run: Cli) -> Path:
    return run.data_dir / "openleash.db"


@contextmanager
def _raw(run: Cli) -> Iterator[sqlite3.Connection]:
    """The database file as someone with write access to it sees it."""
    with closing(sqlite3.connect(_db_path(run), isolation_level=None)) as conn:
        yield conn


def _rows(conn: sqlite3.Connection) -> list[AuditRow]:
    cursor = conn.execute(
        "SELECT seq, event_id, timestamp, event_type, principal_id, action_id, decision_id,"
        " owner_id, agent_principal_id, action_type, result, metadata_json, prev_hash, hash"
        " FROM audit_events ORDER BY seq"
    )
    return [AuditRow._make(r) for r in cursor]


def _rehash_from(conn: sqlite3.Connection, seq: int) -> None:
    """Recompute every hash from ``seq`` on, as a forger who knows the format would."""
    rows = _rows(conn)
    prev = rows[seq - 2].hash if seq > 1 else GENESIS_HASH
    for row in rows[seq - 1 :]:
        digest = record_hash(prev, row[:CHAINED_WIDTH])
        conn.execute(
            "UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, row.seq)
        )
        prev = digest


def _verify(run: Cli) -> tuple[int, str, dict[str, Any]]:
    text = run("audit", "verify")
    report = run("audit", "verify", "--json")
    assert text.exit_code == report.exit_code
    return text.exit_code, text.output, json.loads(report.stdout)


def _failure(run: Cli) -> dict[str, Any]:
    code, output, report = _verify(run)
    assert code == 1, output
    problem = report["problem"]
    assert f"FAILED at record {problem['seq']} ({problem['kind']})" in output
    return dict(problem)


# -- verify -------------------------------------------------------------------------------------


def test_a_clean_log_verifies(run: Cli) -> None:
    _seed(run)

    code, output, report = _verify(run)

    assert code == 0, output
    assert output.startswith(f"OK: {LAST} records chained")
    assert report["ok"] is True
    assert report["records"] == LAST
    # KEY_CREATED at 1, then every 5th record.
    assert (report["checkpoints_verified"], report["last_checkpoint_seq"]) == (5, 20)
    assert "record 21 comes after the last verified checkpoint" in output


def test_an_edited_record_is_named(run: Cli) -> None:
    _seed(run)
    with _raw(run) as conn:
        conn.execute(
            "UPDATE audit_events SET metadata_json = replace(metadata_json, 'DENY', 'ALLOW')"
            " WHERE seq = 8"
        )

    problem = _failure(run)

    assert (problem["seq"], problem["kind"]) == (8, "edited")


def test_an_edited_index_column_is_named(run: Cli) -> None:
    _seed(run)
    with _raw(run) as conn:
        conn.execute("UPDATE audit_events SET result = 'ALLOW' WHERE seq = 14")  # a DENY

    assert _failure(run)["seq"] == 14


def test_a_deleted_record_is_named(run: Cli) -> None:
    _seed(run)
    with _raw(run) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq = 9")

    problem = _failure(run)

    assert (problem["seq"], problem["kind"]) == (9, "deleted")
    assert "record 9 was deleted" in problem["message"]


def test_deleting_the_first_records_is_named(run: Cli) -> None:
    _seed(run)
    with _raw(run) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq <= 3")

    problem = _failure(run)

    assert (problem["seq"], problem["kind"]) == (1, "deleted")


def test_a_deleted_tail_before_a_checkpoint_is_named(run: Cli) -> None:
    _seed(run)
    with _raw(run) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq >= 18")

    problem = _failure(run)

    assert (problem["seq"], problem["kind"]) == (18, "deleted")


def test_an_inserted_record_is_named(run: Cli) -> None:
    _seed(run)
    with _raw(run) as conn:
        # Make room at 7, then insert a record that chains correctly to record 6.
        conn.execute("UPDATE audit_events SET seq = -seq WHERE seq >= 7")
        conn.execute("UPDATE audit_events SET seq = 1 - seq WHERE seq < 0")
        six = _rows(conn)[5]
        fields = (7, "forged", *six[2:CHAINED_WIDTH])
        conn.execute(
            "INSERT INTO audit_events (seq, event_id, timestamp, event_type, principal_id,"
            " action_id, decision_id, owner_id, agent_principal_id, action_type, result,"
            " metadata_json, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*fields, six.hash, record_hash(six.hash, fields)),
        )

    problem = _failure(run)

    # The forged record links to 6; the one after it no longer links to its predecessor.
    assert (problem["seq"], problem["kind"]) == (8, "inserted_or_reordered")


def test_reordered_records_are_named(run: Cli) -> None:
    _seed(run)
    with _raw(run) as conn:
        conn.execute("UPDATE audit_events SET seq = -1 WHERE seq = 11")
        conn.execute("UPDATE audit_events SET seq = 11 WHERE seq = 12")
        conn.execute("UPDATE audit_events SET seq = 12 WHERE seq = -1")

    problem = _failure(run)

    assert (problem["seq"], problem["kind"]) == (11, "inserted_or_reordered")


def test_a_log_rewritten_consistently_fails_at_the_next_checkpoint(run: Cli) -> None:
    _seed(run)
    with _raw(run) as conn:
        conn.execute(
            "UPDATE audit_events SET metadata_json = replace(metadata_json, 'reason 5', 'fine')"
            " WHERE seq = 7"
        )
        _rehash_from(conn, 7)

    problem = _failure(run)

    assert (problem["seq"], problem["kind"]) == (10, "checkpoint_mismatch")


def test_a_forged_checkpoint_signature_is_named(run: Cli) -> None:
    _seed(run)
    forged = base64.b64encode(bytes(64)).decode()
    with _raw(run) as conn:
        conn.execute("UPDATE audit_checkpoints SET signature = ? WHERE seq = 15", (forged,))

    problem = _failure(run)

    assert (problem["seq"], problem["kind"]) == (15, "checkpoint_forged")


def test_a_checkpoint_of_an_unknown_key_is_named(run: Cli) -> None:
    _seed(run)
    with _raw(run) as conn:
        conn.execute("UPDATE audit_checkpoints SET kid = 'nobody' WHERE seq = 5")

    problem = _failure(run)

    assert (problem["seq"], problem["kind"]) == (5, "checkpoint_unknown_key")


def test_rotating_and_revoking_keys_keeps_the_log_verifiable(run: Cli) -> None:
    _seed(run)
    (old,) = run.query(lambda s: s.keys.list_all())
    assert run("keys", "rotate").exit_code == 0
    assert run("keys", "revoke", old.kid).exit_code == 0

    code, output, report = _verify(run)

    assert code == 0, output
    assert report["checkpoints_unverifiable"] == 5  # those the revoked key signed
    # KEY_ROTATED and KEY_REVOKED were checkpointed by the new key: everything is pinned.
    assert report["checkpoints_verified"] == 2
    assert report["last_checkpoint_seq"] == report["last_seq"] == LAST + 2


# -- tail, search, export -----------------------------------------------------------------------


def _search(run: Cli, *args: str) -> list[int]:
    result = run("audit", "search", "--json", "--limit", "100", *args)
    assert result.exit_code == 0, result.output
    return [record["seq"] for record in json.loads(result.stdout)]


def _expected(**where: Any) -> list[int]:
    """Seqs (newest first) of the seeded records whose metadata has these values."""
    matches = []
    for n in range(SEEDED):
        meta = _event(n).metadata_json
        if all(meta.get(k) == v for k, v in where.items()):
            matches.append(n + 2)
    return matches[::-1]


def test_search_filters(run: Cli) -> None:
    _seed(run)

    assert _search(run) == list(range(LAST, 0, -1))
    assert _search(run, "--owner", "user-1") == _expected(owner_id="user-1")
    assert _search(run, "--agent", "ap-2") == _expected(agent_principal_id="ap-2")
    assert _search(run, "--agent", "agent-a") == _expected(agent_principal_id="ap-1")
    assert _search(run, "--action-type", "booking") == _expected(action_type="booking")
    assert _search(run, "--result", "deny") == _expected(result="DENY")
    assert _search(run, "--result", "ALLOW", "--owner", "user-2", "--action-type", "purchase") == (
        _expected(result="ALLOW", owner_id="user-2", action_type="purchase")
    )
    assert _search(run, "--event-type", "KEY_CREATED") == [1]
    # n = 3 .. 6 (03:00:03 included to 03:00:07 excluded)
    assert _search(
        run, "--since", "2026-01-02T03:00:03Z", "--until", "2026-01-02T04:00:07+01:00"
    ) == [8, 7, 6, 5]
    assert _search(run, "--since", "2026-01-03") == [1]  # only the key, created today
    assert _search(run, "--since", "7d") == [1]


def test_search_rejects_a_bad_time(run: Cli) -> None:
    _seed(run)

    result = run("audit", "search", "--since", "yesterday")

    assert result.exit_code == 1
    assert "since must be an ISO-8601 time" in result.stderr


def test_search_prints_one_line_per_record(run: Cli) -> None:
    _seed(run)

    lines = run("audit", "search", "--limit", "2").output.splitlines()

    assert lines[0].startswith("21  2026-01-02T03:00:19.000Z  DECISION_CREATED  ALLOW  purchase")
    assert "agent=agent-a  owner=user-1  - reason 19" in lines[0]
    assert len(lines) == 2


def test_tail_prints_the_newest_records_oldest_first(run: Cli) -> None:
    _seed(run)

    result = run("audit", "tail", "-n", "3", "--json")

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["seq"] for r in records] == [19, 20, 21]
    assert records[0]["prev_hash"] == records[-3]["prev_hash"]
    assert records[1]["prev_hash"] == records[0]["hash"]


def test_export_round_trips_and_can_be_checked_offline(run: Cli, tmp_path: Path) -> None:
    _seed(run)
    out = tmp_path / "audit.jsonl"

    result = run("audit", "export", "--output", str(out))

    assert result.exit_code == 0, result.output
    assert f"Wrote {LAST} records" in result.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    with _raw(run) as conn:
        rows = _rows(conn)
    assert lines == [row.to_wire() for row in rows]
    assert lines[5]["metadata_json"] == _event(4).metadata_json
    # The chain recomputed from the export alone (docs/audit.md, "Checking an export").
    prev = GENESIS_HASH
    for line in lines:
        meta = line["metadata_json"]
        derived = [meta.get(k) for k in ("owner_id", "agent_principal_id", "action_type", "result")]
        fields = (
            line["seq"],
            *(line[k] for k in ("event_id", "timestamp", "event_type", "principal_id")),
            *(line[k] for k in ("action_id", "decision_id")),
            *(v if isinstance(v, str) else None for v in derived),
            orjson.dumps(meta).decode(),
        )
        assert line["prev_hash"] == prev
        prev = record_hash(prev, fields)
        assert line["hash"] == prev


def test_the_export_checker_of_the_docs_accepts_an_export_and_refuses_an_edit(
    run: Cli, tmp_path: Path
) -> None:
    _seed(run)
    out = tmp_path / "audit.jsonl"
    assert run("audit", "export", "--output", str(out)).exit_code == 0
    (code,) = [m.group(1) for m in FENCE.finditer(DOC.read_text()) if "def check_export" in m[1]]
    scope: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102 -- the documentation's own example

    assert scope["check_export"](out) == LAST
    edited = out.read_text(encoding="utf-8").replace("reason 7", "reason 8")
    out.write_text(edited, encoding="utf-8")
    with pytest.raises(ValueError, match="record 9 does not chain"):
        scope["check_export"](out)


def test_export_with_filters_to_stdout(run: Cli) -> None:
    _seed(run)

    result = run("audit", "export", "--owner", "user-2", "--result", "DENY")

    assert result.exit_code == 0, result.output
    seqs = [json.loads(line)["seq"] for line in result.stdout.splitlines()]
    assert seqs == _expected(owner_id="user-2", result="DENY")[::-1]


@pytest.mark.parametrize("command", ["verify", "tail", "search", "export"])
def test_commands_have_help(run: Cli, command: str) -> None:
    result = run("audit", command, "--help", store=False)
    assert result.exit_code == 0
    assert "--data-dir" in result.output
