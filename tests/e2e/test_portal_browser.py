"""The owner portal in a real browser, with a real agent: Debian's Chromium driven by Playwright,
a live server with two worker processes, and the official Python SDK as the agent.

The owner signs in with a TOTP code and leaves the inbox open; the agent is told
REQUIRE_APPROVAL and files a request, which appears without a reload; the owner approves it with
a fresh code; the agent's poll returns the approval token, and the identical action is then
allowed with a proof that names who approved it. A screenshot of each step is saved under
``test-artifacts/portal/``.
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from openleash.crypto import totp
from tests.interop.harness import Sdk, enrol_agent, install_sdk
from tests.support.actions import action
from tests.support.deployment import deployed
from tests.support.live import OWNER_PASSPHRASE, REPO, LiveServer, owner_login

pytestmark = [pytest.mark.e2e, pytest.mark.interop, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "portal"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
#: Every wait in the browser is bounded (milliseconds).
WAIT_MS = 15_000

if importlib.util.find_spec("playwright") is None:
    pytest.skip(
        "Playwright for Python is not installed (pip install -e '.[dev]')",
        allow_module_level=True,
    )
if not CHROMIUM.is_file():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does with apt-get)",
        allow_module_level=True,
    )

from playwright.sync_api import BrowserContext, Page, expect, sync_playwright  # noqa: E402

expect.set_options(timeout=WAIT_MS)

POLICY = """\
version: 1
default: deny
counterparties:
  - domain: shop.example
    trust: HIGH
rules:
  - id: purchase_small_allow
    effect: allow
    action: purchase
    constraints:
      amount_max: 10000
      currency: [USD]
    proof:
      required: true
      ttl_seconds: 300
  - id: purchase_large_approval
    effect: allow
    action: purchase
    constraints:
      amount_min: 10001
      currency: [USD]
    obligations:
      - type: HUMAN_APPROVAL
        params:
          approver: owner
"""
JUSTIFICATION = "Replacing the team's broken laptop before Monday's demo"


class Authenticator:
    """The owner's authenticator app: a fresh code each time, as the server accepts each step
    once (and the one before and after the current step)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.last: int | None = None

    def code(self, good_for: float = 10.0) -> str:
        deadline = time.monotonic() + 75
        while True:
            now = time.time()
            current = totp.counter_at(now)
            left_in_step = (current + 1) * totp.STEP_SECONDS - now
            # The previous step is still accepted until this one ends.
            lowest = current - 1 if left_in_step > good_for else current
            step = lowest if self.last is None else max(lowest, self.last + 1)
            if step <= current + 1:
                self.last = step
                return totp.code_at(self.secret, step)
            assert time.monotonic() < deadline, "no fresh TOTP step in time"
            time.sleep(min(left_in_step + 0.2, 5.0))


@dataclass
class Scenario:
    server: LiveServer
    owner_id: str
    agent: dict[str, Any]
    authenticator: Authenticator
    sdk: Sdk

    def sdk_call(self, fn: str, **kwargs: Any) -> Any:
        return self.sdk.call(
            fn,
            openleash_url=self.server.url,
            agent_id=self.agent["agent_id"],
            private_key_b64=self.agent["private_key_b64"],
            **kwargs,
        )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    sdk = Sdk(install_sdk())
    root = tmp_path_factory.mktemp("portal-browser")
    with deployed(root, "Ada Owner", POLICY) as deployment:
        server, owner_id = deployment.server, deployment.owner_id
        agent = enrol_agent(sdk, deployment, "shopper")
        authenticator = _enable_totp(server, owner_login(server, owner_id))
        yield Scenario(server, owner_id, agent, authenticator, sdk)


def _enable_totp(server: LiveServer, session_token: str) -> Authenticator:
    """TOTP on through the owner API; the owner's app, with the secret in it."""
    headers = {"Authorization": f"Bearer {session_token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10.0) as client:
        started = client.post("/v1/owner/totp/setup", json={})
        assert started.status_code == 200, started.text
        authenticator = Authenticator(str(started.json()["secret"]))
        confirmed = client.post("/v1/owner/totp/confirm", json={"code": authenticator.code()})
        assert confirmed.status_code == 200, confirmed.text
    return authenticator


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    profile = tmp_path / "chromium-profile"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1200, "height": 900},
            timeout=60_000,
        )
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        try:
            yield context
        finally:
            context.close()


class Shots:
    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.count = 0

    def take(self, page: Page, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


def test_owner_approves_in_the_browser_and_the_sdk_agent_goes_ahead(
    scenario: Scenario, browser: BrowserContext, capsys: pytest.CaptureFixture[str]
) -> None:
    shots = Shots(ARTIFACTS)
    url = scenario.server.url
    page = browser.pages[0] if browser.pages else browser.new_page()
    problems: list[str] = []
    # A refusal by the Content-Security-Policy (of the portal's own script or styles) or a
    # script error; a page answered 4xx (the login that asks for a code) is not one.
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))

    # Signing in: the inbox sends to the login form; the passphrase alone is not enough.
    page.goto(f"{url}/gui/approvals")
    expect(page).to_have_url(f"{url}/gui/login?returnTo=%2Fgui%2Fapprovals")
    page.get_by_test_id("login-user").fill(scenario.owner_id)
    page.get_by_test_id("login-passphrase").fill(OWNER_PASSPHRASE)
    shots.take(page, "login")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-totp-required")).to_be_visible()
    shots.take(page, "login-asks-for-totp")
    page.get_by_test_id("login-passphrase").fill(OWNER_PASSPHRASE)
    page.get_by_test_id("login-totp").fill(scenario.authenticator.code())
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{url}/gui/approvals")

    # The inbox is open and live before the agent asks anything.
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("pending-empty")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    shots.take(page, "inbox-empty-live")

    purchase = action(
        scenario.agent["agent_id"],
        scenario.owner_id,
        amount_minor=150000,
        currency="USD",
        merchant_domain="shop.example",
        item="Laptop",
    )
    held = scenario.sdk_call("authorize", action=purchase)
    assert held["result"] == "REQUIRE_APPROVAL", held
    assert held["matched_rule_id"] == "purchase_large_approval"
    filed = scenario.sdk_call(
        "create_approval_request",
        decision_id=held["decision_id"],
        action=purchase,
        justification=JUSTIFICATION,
    )
    request_id = filed["approval_request_id"]
    assert filed["status"] == "PENDING"

    # It appears without a reload.
    row = page.locator(f'[data-testid="approval-row"][data-approval-id="{request_id}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("1,500.00 USD")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    shots.take(page, "inbox-request-arrived")

    # What the agent wants, in full.
    row.get_by_test_id("approval-link").click()
    expect(page).to_have_url(f"{url}/gui/approvals/{request_id}")
    expect(page.get_by_test_id("field-action-type")).to_have_text("purchase")
    expect(page.get_by_test_id("field-amount")).to_contain_text("1,500.00 USD")
    expect(page.get_by_test_id("field-counterparty")).to_have_text("shop.example")
    expect(page.get_by_test_id("field-trust")).to_contain_text("HIGH")
    expect(page.get_by_test_id("field-rule")).to_contain_text("purchase_large_approval")
    expect(page.get_by_test_id("field-justification")).to_contain_text(JUSTIFICATION)
    expect(page.get_by_test_id("field-kind")).to_have_text("Approval")
    expect(page.get_by_test_id("field-status")).to_have_text("PENDING")
    shots.take(page, "request-detail")
    page.set_viewport_size({"width": 390, "height": 844})
    shots.take(page, "request-detail-phone")
    page.set_viewport_size({"width": 1200, "height": 900})

    # Approving needs a fresh code.
    page.get_by_test_id("approve-totp").fill(scenario.authenticator.code())
    shots.take(page, "approving")
    page.get_by_test_id("approve-submit").click()
    expect(page.get_by_test_id("field-status")).to_have_text("APPROVED")
    expect(page.get_by_test_id("flash")).to_be_visible()
    shots.take(page, "approved")

    # The agent learns it by polling, with the SDK, and gets the approval token.
    answer = scenario.sdk_call(
        "poll_approval_request",
        approval_request_id=request_id,
        interval_seconds=0.5,
        timeout_seconds=20,
    )
    assert answer["status"] == "APPROVED", answer
    assert answer["approval_token"].startswith("v4.public."), answer

    # The identical action again, with the token: allowed, and the proof says who approved.
    allowed = scenario.sdk_call(
        "authorize", action={**purchase, "approval_token": answer["approval_token"]}
    )
    assert allowed["result"] == "ALLOW", allowed
    assert allowed["action_hash"] == held["action_hash"]
    keys = httpx.get(f"{url}/v1/public-keys", timeout=10.0).json()["keys"]
    verdict = scenario.sdk.call(
        "verify_proof_offline", token=allowed["proof_token"], public_keys=keys
    )
    assert verdict["valid"] is True, verdict
    claims = verdict["claims"]
    assert claims["approval_request_id"] == request_id
    assert claims["approved_by"] == scenario.owner_id
    assert claims["approved_at"]
    assert claims["assurance_level"] == "SUBSTANTIAL"
    assert claims["action_hash"] == held["action_hash"]

    # Back in the inbox, the request is listed as answered.
    page.get_by_test_id("nav-approvals").click()
    recent = page.locator(f'[data-testid="recent-row"][data-approval-id="{request_id}"]')
    expect(recent).to_have_attribute("data-status", "APPROVED")
    expect(page.get_by_test_id("pending-empty")).to_be_visible()
    shots.take(page, "inbox-after")

    assert not problems, f"refused by the CSP, or a script error: {problems}"
    with capsys.disabled():
        print(f"\nportal screenshots ({shots.count}): {shots.folder}")
