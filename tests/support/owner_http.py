"""An owner over HTTP, for tests against a live server: sets a passphrase with a setup invite,
logs in, and approves what the agent asks for (also from a background thread)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from tests.support.live import LiveServer, owner_login

PASSPHRASE = "a passphrase long enough for the owner"


class Owner:
    def __init__(self, live: LiveServer, owner_id: str, passphrase: str = PASSPHRASE) -> None:
        self.url = live.url
        self.token = owner_login(live, owner_id, passphrase)

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """An owner API call that must succeed: its answer."""
        response = httpx.request(
            method,
            f"{self.url}{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
            **kwargs,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def pending(self) -> list[dict[str, Any]]:
        found = self.request("GET", "/v1/owner/approval-requests", params={"status": "PENDING"})
        return list(found["approval_requests"])

    def approve(self, approval_request_id: str) -> dict[str, Any]:
        path = f"/v1/owner/approval-requests/{approval_request_id}/approve"
        return self.request("POST", path, json={})

    def deny(self, approval_request_id: str, reason: str) -> dict[str, Any]:
        path = f"/v1/owner/approval-requests/{approval_request_id}/deny"
        return self.request("POST", path, json={"reason": reason})

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
