"""The JSON of owners' accounts: owners, invites, sign-in, profile and TOTP."""

from __future__ import annotations

from typing import Any

from openleash.domain.models import Owner
from openleash.service.owner_auth import OwnerProfile, SignedIn, TotpEnrolment
from openleash.service.owners import IssuedInvite


def owner_json(owner: Owner) -> dict[str, Any]:
    """An owner as the admin's list shows it (``User`` of the document)."""
    return {
        "user_principal_id": owner.user_principal_id,
        "display_name": owner.display_name,
        "status": owner.status,
        "identity_assurance_level": "NONE",
        "created_at": owner.created_at,
        "system_roles": [],
    }


def owner_created_json(owner: Owner) -> dict[str, Any]:
    """The answer of ``POST /v1/admin/users``: the owner, without ``system_roles``."""
    view = owner_json(owner)
    view.pop("system_roles")
    return view


def owners_json(owners: list[Owner]) -> dict[str, Any]:
    return {"users": [owner_json(o) for o in owners]}


def invite_json(invite: IssuedInvite) -> dict[str, Any]:
    """A new invite; its token is shown this once."""
    return {
        "invite_id": invite.invite_id,
        "invite_token": invite.invite_token,
        "expires_at": invite.expires_at,
    }


def setup_invite_json(invite: IssuedInvite, base_url: str) -> dict[str, Any]:
    """A setup invite with the portal link that redeems it."""
    return {
        **invite_json(invite),
        "setup_url": f"{base_url}/gui/login/setup?invite_id={invite.invite_id}"
        f"&invite_token={invite.invite_token}",
    }


def setup_done_json(owner_id: str) -> dict[str, Any]:
    return {"status": "setup_complete", "user_principal_id": owner_id}


def signed_in_json(done: SignedIn) -> dict[str, Any]:
    """The answer of a login: the session token and its CSRF token (the cookies are set apart)."""
    return {
        "token": done.token,
        "expires_at": done.expires_at,
        "user_principal_id": done.user_principal_id,
        "system_roles": [],
        "org_memberships": [],
        "csrf_token": done.csrf_token,
    }


LOGGED_OUT: dict[str, str] = {"status": "logged_out"}
TOTP_DISABLED: dict[str, str] = {"status": "totp_disabled"}


def profile_json(profile: OwnerProfile) -> dict[str, Any]:
    owner = profile.owner
    return {
        "user_principal_id": owner.user_principal_id,
        "display_name": owner.display_name,
        "status": owner.status,
        "created_at": owner.created_at,
        "identity_assurance_level": "NONE",
        "system_roles": [],
        "totp_enabled": profile.totp_enabled,
        "backup_codes_remaining": profile.backup_codes_remaining,
        "session_expires_at": profile.session_expires_at,
    }


def totp_enrolment_json(enrolment: TotpEnrolment) -> dict[str, Any]:
    """The new secret, shown to its owner once, to put into an authenticator app."""
    return {"secret": enrolment.secret, "uri": enrolment.uri, "qr_svg": enrolment.qr_svg}


def totp_enabled_json(backup_codes: list[str]) -> dict[str, Any]:
    """TOTP on, with the backup codes, shown once."""
    return {"status": "totp_enabled", "backup_codes": backup_codes}
