"""An owner over HTTP, for tests against a live server: sets a passphrase with a setup invite,
logs in, and approves what the agent asks for (also from a background thread)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from tests.support.live import LiveServer

PASSPHRASE = "a passphrase long enough for the owner"


class Owner:
    def __init__(self, live: LiveServer, owner_id: str, passphrase: str = PASSPHRASE) -> None:
        self.url = live.url
        invite = live.admin("POST", f"/v1/admin/users/{owner_id}/setup-invite")
        setup = {
            "invite_id": invite["invite_id"],
            "invite_token": invite["invite_token"],
            "passphrase": passphrase,
        }
        done = httpx.post(f"{live.url}/v1/owner/setup", json=setup, timeout=10)
        assert done.status_code == 200, done.text
        login = httpx.post(
            f"{live.url}/v1/owner/login",
            json={"user_principal_id": owner_id, "passphrase": passphrase},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        self.token = str(login.json()["token"])

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def pending(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}/v1/owner/approval-requests",
            params={"status": "PENDING"},
            headers=self._headers(),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return list(response.json()["approval_requests"])

    def approve(self, approval_request_id: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/v1/owner/approval-requests/{approval_request_id}/approve",
            json={},
            headers=self._headers(),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def approve_next(self, timeout: float = 20.0) -> Approver:
        """In a background thread: wait for the next pending request and approve it."""
        return Approver(self, once=True, timeout=timeout).start()

    def approve_everything(self) -> Approver:
        """In a background thread: approve every request as it shows up, until stopped."""
        return Approver(self, once=False, timeout=3600.0).start()


class Approver:
    """The background thread of :meth:`Owner.approve_next` / :meth:`Owner.approve_everything`;
    ``errors`` holds what went wrong in it."""

    def __init__(self, owner: Owner, *, once: bool, timeout: float) -> None:
        self.owner = owner
        self.once = once
        self.timeout = timeout
        self.approved: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Approver:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                for request in self.owner.pending():
                    self.owner.approve(request["approval_request_id"])
                    self.approved.append(request["approval_request_id"])
                    if self.once:
                        return
                self._stop.wait(0.1)
            if self.once and not self._stop.is_set():
                raise AssertionError("no approval request showed up")
        except BaseException as exc:  # reported to the test through .errors
            self.errors.append(exc)
