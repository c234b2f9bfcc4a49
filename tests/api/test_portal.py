"""The owner portal (/gui): sign-in and its redirects, CSRF on every form, approving and
denying from the page, policy errors shown on their line, and agent text always escaped."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from openleash.crypto import totp
from tests.api.conftest import Api, upsert
from tests.api.owners import PASSPHRASE, Owner, owner_session
from tests.support.actions import action as make_action

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
XSS = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'

TRUSTING = """\
version: 1
default: deny
counterparties:
  - domain: shop.example
    trust: HIGH
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
  - id: large_purchases
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""

STEP_UP_HIGH = """\
version: 1
default: deny
rules:
  - id: government_submit_high
    effect: allow
    action: government.submit_document
    requirements:
      min_assurance_level: HIGH
"""

BROKEN = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints:
      amount_mx: 3000
"""


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def portal_login(api: Api, owner_id: str, *, code: str = "", return_to: str = "") -> Any:
    page = api.client.get("/gui/login")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_of(page.text),
        "user_principal_id": owner_id,
        "passphrase": PASSPHRASE,
        "totp_code": code,
        "returnTo": return_to,
    }
    return api.client.post("/gui/login", data=form, follow_redirects=False)


def signed_in(api: Api, *, with_totp: bool = False) -> Owner:
    """An owner with a passphrase (and TOTP if asked), signed in to the portal by cookie."""
    owner = owner_session(api)
    if with_totp:
        owner.enable_totp()
    response = portal_login(api, owner.owner_id, code=owner.code() if with_totp else "")
    assert response.status_code == 303, response.text
    return owner


def held_request(api: Api, justification: str | None = "Team offsite laptop") -> str:
    """The agent is told REQUIRE_APPROVAL for a large purchase and files a request."""
    action = api.agent.action(amount_minor=123456, currency="USD", merchant_domain="shop.example")
    decided = api.signed("POST", "/v1/authorize", json.dumps(action).encode()).json()
    assert decided["result"] == "REQUIRE_APPROVAL", decided
    body: dict[str, Any] = {"decision_id": decided["decision_id"], "action": action}
    if justification is not None:
        body["justification"] = justification
    filed = api.signed("POST", "/v1/agent/approval-requests", json.dumps(body).encode())
    assert filed.status_code == 200, filed.text
    return str(filed.json()["approval_request_id"])


def page_form(api: Api, path: str) -> str:
    page = api.client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


# -- pages, headers, sign-in --------------------------------------------------------------------


def test_the_login_page_is_a_phone_friendly_form_with_security_headers(api: Api) -> None:
    page = api.client.get("/gui/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text
    assert 'data-testid="login-totp"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text  # every script is a file of /gui/static


def test_static_files_are_served_by_name_only(api: Api) -> None:
    css = api.client.get("/gui/static/portal.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["x-content-type-options"] == "nosniff"
    js = api.client.get("/gui/static/portal.js")
    assert "EventSource" in js.text
    for name in ("..%2F..%2Fpyproject.toml", "missing.css", "%2Fetc%2Fpasswd", "portal"):
        assert api.client.get(f"/gui/static/{name}").status_code == 404, name


@pytest.mark.parametrize("path", ["/gui/approvals", "/gui/policies", "/gui/audit?since=1d"])
def test_a_page_without_a_session_redirects_to_the_login_page(api: Api, path: str) -> None:
    response = api.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert target.path == "/gui/login"
    assert parse_qs(target.query)["returnTo"] == [path]


def test_login_sets_the_session_cookies_and_returns_to_the_page(api: Api) -> None:
    owner = owner_session(api)
    response = portal_login(api, owner.owner_id, return_to="/gui/policies")
    assert response.status_code == 303
    assert response.headers["location"] == "/gui/policies"
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("openleash_session="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert any(c.startswith("openleash_csrf=") for c in cookies)
    inbox = api.client.get("/gui/approvals")
    assert inbox.status_code == 200
    assert 'data-testid="inbox"' in inbox.text
    assert 'data-testid="logout"' in inbox.text


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example/gui/approvals",
        "//evil.example/gui",
        "/\\evil.example",
        "/v1/owner/profile",
        "/gui/../v1/admin/users",
        "javascript:alert(1)",
    ],
)
def test_login_never_redirects_off_the_portal(api: Api, return_to: str) -> None:
    owner = owner_session(api)
    response = portal_login(api, owner.owner_id, return_to=return_to)
    assert response.status_code == 303
    assert response.headers["location"] == "/gui/approvals"


def test_a_wrong_passphrase_is_shown_on_the_page(api: Api) -> None:
    owner = owner_session(api)
    page = api.client.get("/gui/login")
    form = {
        "csrf_token": csrf_of(page.text),
        "user_principal_id": owner.owner_id,
        "passphrase": "not the passphrase at all",
    }
    response = api.client.post("/gui/login", data=form)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-code="INVALID_CREDENTIALS"' in response.text
    assert owner.owner_id in response.text  # the user id is kept, never the passphrase
    assert "not the passphrase at all" not in response.text


def test_login_asks_for_the_totp_code_when_it_is_on(api: Api) -> None:
    owner = owner_session(api)
    owner.enable_totp()
    asked = portal_login(api, owner.owner_id)
    assert asked.status_code == 403
    assert 'data-code="TOTP_REQUIRED"' in asked.text
    assert 'data-testid="login-totp-required"' in asked.text
    done = portal_login(api, owner.owner_id, code=owner.code())
    assert done.status_code == 303
    assert done.headers["location"] == "/gui/approvals"


def test_logout_ends_the_session(api: Api) -> None:
    signed_in(api)
    token = page_form(api, "/gui/approvals")
    response = api.client.post("/gui/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/gui/login"
    assert api.client.get("/gui/approvals", follow_redirects=False).status_code == 303


# -- CSRF ---------------------------------------------------------------------------------------


def test_a_form_without_the_sessions_csrf_token_is_refused(api: Api) -> None:
    owner = signed_in(api)
    request_id = held_request(api)
    path = f"/gui/approvals/{request_id}/approve"
    for form in ({}, {"csrf_token": ""}, {"csrf_token": "x" * 43}, {"csrf_token": owner.token}):
        refused = api.client.post(path, data=form, follow_redirects=False)
        assert refused.status_code == 403, form
        assert refused.headers["content-type"].startswith("text/html")
        assert 'data-code="CSRF_FAILED"' in refused.text
    # The same with the right token goes through: nothing was approved before.
    status = owner.get(f"/v1/owner/approval-requests/{request_id}").json()["status"]
    assert status == "PENDING"
    token = page_form(api, f"/gui/approvals/{request_id}")
    done = api.client.post(path, data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303


def test_a_cross_site_json_post_is_not_a_form(api: Api) -> None:
    signed_in(api)
    request_id = held_request(api)
    token = page_form(api, f"/gui/approvals/{request_id}")
    refused = api.client.post(
        f"/gui/approvals/{request_id}/approve", json={"csrf_token": token}, follow_redirects=False
    )
    assert refused.status_code == 415


def test_the_login_form_has_its_own_csrf_token(api: Api) -> None:
    owner = owner_session(api)
    form = {"user_principal_id": owner.owner_id, "passphrase": PASSPHRASE}
    refused = api.client.post("/gui/login", data={**form, "csrf_token": "x" * 43})
    assert refused.status_code == 403
    assert 'data-code="CSRF_FAILED"' in refused.text
    assert 'data-testid="login-form"' in refused.text  # with a fresh form to try again
    assert not any(
        c.startswith("openleash_session=") for c in refused.headers.get_list("set-cookie")
    )


def test_a_setup_invite_link_leads_to_a_passphrase_form_then_to_login(api: Api) -> None:
    owner_id = api.agent.owner_id
    invite = api.client.post(f"/v1/admin/users/{owner_id}/setup-invite").json()
    link = invite["setup_url"]
    assert link.startswith("http://127.0.0.1:8787/gui/login/setup?invite_id=")
    page = api.client.get(link.removeprefix("http://127.0.0.1:8787"))
    assert page.status_code == 200
    assert 'data-testid="setup-form"' in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "invite_id": invite["invite_id"],
        "invite_token": invite["invite_token"],
        "passphrase": PASSPHRASE,
        "confirm": PASSPHRASE + "?",
    }
    differs = api.client.post("/gui/login/setup", data=form)
    assert 'data-code="VALIDATION_ERROR"' in differs.text
    short = api.client.post("/gui/login/setup", data={**form, "passphrase": "x", "confirm": "x"})
    assert short.status_code == 400
    done = api.client.post("/gui/login/setup", data={**form, "confirm": PASSPHRASE})
    assert done.status_code == 200
    assert 'data-testid="login-form"' in done.text
    assert f'value="{owner_id}"' in done.text
    assert portal_login(api, owner_id).status_code == 303
    again = api.client.get(link.removeprefix("http://127.0.0.1:8787"))
    reused = {**form, "confirm": PASSPHRASE, "csrf_token": csrf_of(again.text)}
    used = api.client.post("/gui/login/setup", data=reused)
    assert 'data-code="INVITE_USED"' in used.text
    forged = api.client.post("/gui/login/setup", data={**form, "csrf_token": "y" * 43})
    assert forged.status_code == 403


# -- approvals ----------------------------------------------------------------------------------


def test_the_inbox_lists_a_pending_request_and_the_detail_shows_what_is_asked(api: Api) -> None:
    owner = signed_in(api)
    api.run(upsert(api.services, owner.owner_id, TRUSTING))
    request_id = held_request(api)
    for path in ("/gui/approvals", "/gui/approvals/fragment"):
        listed = api.client.get(path)
        assert f'data-approval-id="{request_id}"' in listed.text
        assert "1,234.56 USD" in listed.text
    page = api.client.get(f"/gui/approvals/{request_id}")
    assert page.status_code == 200
    text = page.text
    assert "1,234.56 USD" in text
    assert re.search(r'data-testid="field-counterparty">shop\.example<', text)
    assert "trust-high" in text  # the owner's trust, from the current policy
    assert "large_purchases" in text
    assert "Team offsite laptop" in text
    assert 'data-testid="approve-form"' in text
    assert 'data-testid="approve-totp"' not in text  # TOTP is off for this owner


def test_the_fragment_without_a_session_is_401_for_the_script(api: Api) -> None:
    response = api.client.get("/gui/approvals/fragment", follow_redirects=False)
    assert response.status_code == 401


def test_approving_with_the_form_needs_the_totp_code_and_gives_the_agent_its_token(
    api: Api,
) -> None:
    owner = signed_in(api, with_totp=True)
    request_id = held_request(api)
    page = api.client.get(f"/gui/approvals/{request_id}")
    assert 'data-testid="approve-totp"' in page.text
    path = f"/gui/approvals/{request_id}/approve"
    token = csrf_of(page.text)
    missing = api.client.post(path, data={"csrf_token": token, "totp_code": ""})
    assert missing.status_code == 403
    assert 'data-code="TOTP_REQUIRED"' in missing.text
    assert 'data-testid="approve-form"' in missing.text  # still on the request, still pending
    done = api.client.post(path, data={"csrf_token": token, "totp_code": owner.code()})
    assert done.status_code == 200  # followed the redirect to the request
    assert done.url.path == f"/gui/approvals/{request_id}"
    assert 'data-testid="flash"' in done.text
    assert re.search(r'data-testid="field-status">APPROVED<', done.text)
    assert "SUBSTANTIAL" in done.text
    seen = api.signed("GET", f"/v1/agent/approval-requests/{request_id}").json()
    assert seen["status"] == "APPROVED"
    assert seen["approval_token"].startswith("v4.public.")
    again = api.client.post(path, data={"csrf_token": token, "totp_code": owner.code()})
    assert again.status_code == 400
    assert 'data-code="INVALID_STATUS"' in again.text


def test_a_high_step_up_asks_for_the_passphrase_as_well(api: Api) -> None:
    owner = signed_in(api, with_totp=True)
    api.run(upsert(api.services, owner.owner_id, STEP_UP_HIGH))
    action = make_action(
        api.agent.agent_id, owner.owner_id, "government.submit_document", document="tax-return"
    )
    decided = api.signed("POST", "/v1/authorize", json.dumps(action).encode()).json()
    assert decided["result"] == "REQUIRE_STEP_UP", decided
    body = {"decision_id": decided["decision_id"], "action": action}
    filed = api.signed("POST", "/v1/agent/approval-requests", json.dumps(body).encode())
    request_id = filed.json()["approval_request_id"]
    page = api.client.get(f"/gui/approvals/{request_id}")
    assert re.search(r'data-testid="field-kind">Step-up[^<]*<strong>HIGH</strong>', page.text)
    assert 'data-testid="approve-passphrase"' in page.text
    path = f"/gui/approvals/{request_id}/approve"
    token = csrf_of(page.text)
    code_only = api.client.post(path, data={"csrf_token": token, "totp_code": owner.code()})
    assert 'data-code="STEP_UP_REQUIRED"' in code_only.text
    done = api.client.post(
        path, data={"csrf_token": token, "totp_code": owner.code(), "passphrase": PASSPHRASE}
    )
    assert re.search(r'data-testid="field-status">APPROVED<', done.text)
    assert owner.get(f"/v1/owner/approval-requests/{request_id}").json()["assurance_level"] == (
        "HIGH"
    )


def test_denying_with_a_reason(api: Api) -> None:
    signed_in(api)
    request_id = held_request(api)
    token = page_form(api, f"/gui/approvals/{request_id}")
    done = api.client.post(
        f"/gui/approvals/{request_id}/deny",
        data={"csrf_token": token, "reason": "Not this month"},
    )
    assert re.search(r'data-testid="field-status">DENIED<', done.text)
    seen = api.signed("GET", f"/v1/agent/approval-requests/{request_id}").json()
    assert seen["status"] == "DENIED"
    assert seen["denial_reason"] == "Not this month"


def test_an_expired_request_says_so_on_the_page(api: Api) -> None:
    owner = signed_in(api)
    request_id = held_request(api)
    api.clock.advance(api.services.options.approval_request_ttl_seconds + 1)
    assert portal_login(api, owner.owner_id).status_code == 303  # the session ended meanwhile
    page = api.client.get(f"/gui/approvals/{request_id}")
    assert re.search(r'data-testid="field-status">EXPIRED<', page.text)
    assert 'data-testid="approve-form"' not in page.text
    response = api.client.post(
        f"/gui/approvals/{request_id}/approve", data={"csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 400
    assert 'data-code="REQUEST_EXPIRED"' in response.text


def test_an_agents_words_are_escaped_everywhere(api: Api) -> None:
    signed_in(api)
    request_id = held_request(api, justification=XSS)
    for path in ("/gui/approvals", "/gui/approvals/fragment", f"/gui/approvals/{request_id}"):
        text = api.client.get(path).text
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text, path
    detail = api.client.get(f"/gui/approvals/{request_id}").text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in detail


def test_another_owners_request_is_not_found(api: Api) -> None:
    signed_in(api)
    response = api.client.get("/gui/approvals/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Nothing here." in response.text


# -- policies -----------------------------------------------------------------------------------


def test_a_policy_that_does_not_validate_is_shown_with_its_failing_line(api: Api) -> None:
    signed_in(api)
    token = page_form(api, "/gui/policies/new")
    response = api.client.post(
        "/gui/policies/new",
        data={"csrf_token": token, "policy_yaml": BROKEN.replace("\n", "\r\n"), "target": ""},
    )
    assert response.status_code == 400
    text = response.text
    assert 'data-code="INVALID_POLICY"' in text
    failing = re.findall(r'data-testid="yaml-line" data-line="(\d+)" class="bad"', text)
    assert failing == ["8"]
    line_8 = text.split('data-line="8" class="bad"', 1)[1].split("</li>", 1)[0]
    assert "amount_mx: 3000" in line_8
    assert "unknown key `amount_mx`" in line_8
    assert "rules[0].constraints" in line_8
    assert BROKEN.splitlines()[7] in text  # the textarea keeps what was typed


def test_moving_a_policy_up_in_its_tier(api: Api) -> None:
    owner = signed_in(api)
    second = owner.post("/v1/owner/policies", {"policy_yaml": TRUSTING, "name": "Second"}).json()
    before = [
        p["policy_id"]
        for p in owner.get("/v1/owner/policies").json()["policies"]
        if p["tier"] == "owner_wide"
    ]
    assert before[-1] == second["policy_id"]
    token = page_form(api, "/gui/policies")
    moved = api.client.post(
        "/gui/policies/order",
        data={"csrf_token": token, "tier": "owner_wide", "policy_id": second["policy_id"]},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    after = [
        p["policy_id"]
        for p in owner.get("/v1/owner/policies").json()["policies"]
        if p["tier"] == "owner_wide"
    ]
    assert after == [*before[:-2], before[-1], before[-2]]
    page = api.client.get("/gui/policies").text
    assert 'data-testid="policy-move-up"' in page


def test_creating_and_rebinding_a_policy(api: Api) -> None:
    owner = signed_in(api)
    agent_principal_id = owner.get("/v1/owner/agents").json()["agents"][0]["agent_principal_id"]
    token = page_form(api, "/gui/policies/new")
    created = api.client.post(
        "/gui/policies/new",
        data={
            "csrf_token": token,
            "name": "Books",
            "policy_yaml": TRUSTING,
            "target": agent_principal_id,
            "mode": "enforce",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    policy_id = created.headers["location"].split("/")[-1].split("?")[0]
    listed = api.client.get("/gui/policies").text
    agent_tier = listed.split('data-testid="tier-agent"', 1)[1].split("</section>", 1)[0]
    assert f'data-policy-id="{policy_id}"' in agent_tier
    updated = api.client.post(
        f"/gui/policies/{policy_id}",
        data={"csrf_token": token, "name": "Books", "policy_yaml": TRUSTING, "target": ""},
        follow_redirects=False,
    )
    assert updated.status_code == 303
    stored = owner.get(f"/v1/owner/policies/{policy_id}").json()
    assert stored["applies_to_agent_principal_id"] is None
    assert stored["tier"] == "owner_wide"


def test_a_policy_draft_is_approved_from_the_policies_page(api: Api) -> None:
    owner = signed_in(api)
    proposal = {"policy_yaml": TRUSTING, "name": "Proposed", "justification": XSS}
    filed = api.signed("POST", "/v1/agent/policy-drafts", json.dumps(proposal).encode())
    assert filed.status_code == 200, filed.text
    draft_id = filed.json()["policy_draft_id"]
    page = api.client.get("/gui/policies")
    assert f'data-draft-id="{draft_id}"' in page.text
    assert "<script>alert" not in page.text
    done = api.client.post(
        f"/gui/policy-drafts/{draft_id}/approve", data={"csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 200
    assert 'data-testid="flash"' in done.text
    draft = owner.get(f"/v1/owner/policy-drafts/{draft_id}").json()
    assert draft["status"] == "APPROVED"


# -- agents, usage, audit, profile ----------------------------------------------------------------


def test_an_agent_invite_link_is_shown_once_and_revoking_needs_the_code(api: Api) -> None:
    owner = signed_in(api, with_totp=True)
    token = page_form(api, "/gui/agents")
    invited = api.client.post("/gui/agents/invite", data={"csrf_token": token})
    found = re.search(r'data-testid="invite-url">([^<]+)<', invited.text)
    assert found is not None
    assert "/v1/agents/register-with-invite?invite_id=" in found.group(1)
    assert found.group(1) not in api.client.get("/gui/agents").text
    agent_principal_id = owner.get("/v1/owner/agents").json()["agents"][0]["agent_principal_id"]
    path = f"/gui/agents/{agent_principal_id}/revoke"
    refused = api.client.post(path, data={"csrf_token": token})
    assert 'data-code="TOTP_REQUIRED"' in refused.text
    done = api.client.post(path, data={"csrf_token": token, "totp_code": owner.code()})
    assert 'data-testid="flash"' in done.text
    assert owner.get("/v1/owner/agents").json()["agents"][0]["status"] == "REVOKED"


def test_usage_and_audit_pages(api: Api) -> None:
    owner = signed_in(api)
    budget = (
        "version: 1\ndefault: deny\nrules:\n  - id: budget\n    effect: allow\n"
        "    action: purchase\n    limits: [{ spend: 50000, window: 24h }]\n"
    )
    api.run(upsert(api.services, owner.owner_id, budget))
    held = api.agent.action(amount_minor=700, currency="USD")
    assert api.signed("POST", "/v1/authorize", json.dumps(held).encode()).status_code == 200
    usage = api.client.get("/gui/usage")
    assert usage.status_code == 200
    assert 'data-rule-id="budget"' in usage.text
    assert 'value="700"' in usage.text
    audit = api.client.get("/gui/audit", params={"event_type": "user_login"})
    assert audit.status_code == 200
    assert re.findall(r'data-event-type="([A-Z_]+)"', audit.text) == ["USER_LOGIN"] * 2
    bad = api.client.get("/gui/audit", params={"since": "yesterday"})
    assert bad.status_code == 400
    assert 'data-code="INVALID_REQUEST"' in bad.text
    assert api.client.get("/gui/audit", params={"since": "2020-01-01"}).status_code == 200


def test_audit_pages_through_older_events(api: Api) -> None:
    signed_in(api)
    for _ in range(60):
        held = api.agent.action(amount_minor=10, currency="USD")
        api.signed("POST", "/v1/authorize", json.dumps(held).encode())
    first = api.client.get("/gui/audit")
    assert len(re.findall(r'data-testid="audit-row"', first.text)) == 50
    older = re.search(r'href="/gui/audit\?([^"]+)" data-testid="audit-older"', first.text)
    assert older is not None
    second = api.client.get(f"/gui/audit?{older.group(1).replace('&amp;', '&')}")
    assert 0 < len(re.findall(r'data-testid="audit-row"', second.text)) <= 50
    assert 'data-testid="audit-newest"' in second.text


def test_totp_enrolment_from_the_profile_page(api: Api) -> None:
    owner = signed_in(api)
    token = page_form(api, "/gui/profile")
    started = api.client.post("/gui/profile/totp/setup", data={"csrf_token": token})
    assert started.status_code == 200
    assert "<svg" in started.text  # the QR code, rendered
    found = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', started.text)
    assert found is not None
    secret = found.group(1)
    api.clock.advance(30)
    code = totp.code_at(secret, totp.counter_at(api.clock().timestamp()))
    confirmed = api.client.post(
        "/gui/profile/totp/confirm", data={"csrf_token": token, "code": code}
    )
    assert 'data-testid="backup-codes"' in confirmed.text
    assert owner.get("/v1/owner/profile").json()["totp_enabled"] is True
    assert 'data-testid="backup-codes"' not in api.client.get("/gui/profile").text
