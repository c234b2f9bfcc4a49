"""Metrics add up over worker processes: any worker's /metrics counts every worker's decisions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from openleash.client import AgentAuth
from tests.support.actions import action
from tests.support.live import LiveServer, free_port, provision

pytestmark = pytest.mark.e2e

POLICY = "version: 1\ndefault: allow\nrules: []\n"


def test_every_workers_decisions_are_counted(tmp_path: Path) -> None:
    live = LiveServer(tmp_path, free_port(), workers=2)
    creds = provision(live.data_dir, POLICY)
    live.start()
    try:
        auth = AgentAuth(creds.agent_id, creds.private_key_b64)
        for _ in range(20):
            body = json.dumps(action(creds.agent_id, creds.owner_id, amount_minor=1)).encode()
            # a fresh connection each time, so the requests spread over both workers
            response = httpx.post(
                f"{live.url}/v1/authorize",
                content=body,
                auth=auth,
                headers={"Content-Type": "application/json"},
                timeout=10.0,
            )
            assert response.json()["result"] == "ALLOW"
        for _ in range(4):
            text = httpx.get(f"{live.url}/metrics", timeout=10.0).text
            found = re.search(
                r'^openleash_decisions_total{result="ALLOW",via_approval="False"} (\S+)$',
                text,
                re.MULTILINE,
            )
            assert found is not None, text
            assert float(found.group(1)) == 20
    finally:
        live.stop()
