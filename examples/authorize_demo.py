"""Ask the demo server for two decisions as the demo agent, and check the proof offline.

Run `scripts/demo` first (it writes demo/agent.env), then:

    .venv/bin/python examples/authorize_demo.py
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from openleash.client import Client, PublicKeyCache, verify_proof_offline


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def purchase(agent_id: str, owner_id: str, amount_minor: int) -> dict[str, object]:
    return {
        "action_id": str(uuid.uuid4()),
        "action_type": "purchase",
        "requested_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "principal": {"agent_id": agent_id},
        "subject": {"principal_id": owner_id},
        "payload": {
            "amount_minor": amount_minor,
            "currency": "USD",
            "merchant_domain": "shop.example",
        },
    }


def main(env_file: str = "demo/agent.env") -> int:
    env = read_env(Path(env_file))
    url, agent_id = env["OPENLEASH_URL"], env["OPENLEASH_AGENT_ID"]
    with Client(url, agent_id, env["OPENLEASH_AGENT_PRIVATE_KEY_B64"]) as client:
        for amount in (5_000, 500_000):
            decision = client.authorize(purchase(agent_id, env["USER_PRINCIPAL_ID"], amount))
            print(f"purchase of {amount}: {decision['result']} ({decision['reason']})")
            if decision["proof_token"]:
                claims = verify_proof_offline(
                    decision["proof_token"],
                    PublicKeyCache(url),
                    expected_action_hash=decision["action_hash"],
                )
                print(f"  proof verified offline: decision {claims['decision_id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
