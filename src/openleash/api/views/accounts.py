"""The JSON of owners' accounts: owners, invites, sign-in, profile and TOTP."""

from __future__ import annotations

from typing import Final, Literal, TypedDict

from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import Owner
from openleash.service.owner_auth import OwnerProfile, SignedIn, TotpEnrolment
from openleash.service.owners import IssuedInvite


class UserCreatedJson(TypedDict):
    """``UserCreated`` of the document."""

    user_principal_id: str
    display_name: str
    status: str
    identity_assurance_level: Literal["NONE"]
    created_at: str


class UserJson(UserCreatedJson):
    """``User`` of the document."""

    system_roles: list[str]


class UserListJson(TypedDict):
    """``UserList`` of the document."""

    users: list[UserJson]


class InviteJson(TypedDict):
    """What every new invite shows (its token this once)."""

    invite_id: str
    invite_token: str
    expires_at: str


class SetupInviteJson(InviteJson):
    """``SetupInvite`` of the document."""

    setup_url: str


class SetupDoneJson(TypedDict):
    """``OwnerSetupResult`` of the document."""

    status: Literal["setup_complete"]
    user_principal_id: str


class SignedInJson(TypedDict):
    """``OwnerLoginResult`` of the document."""

    token: str
    expires_at: str
    user_principal_id: str
    system_roles: list[str]
    org_memberships: list[JsonObject]
    csrf_token: str


class LoggedOutJson(TypedDict):
    """``OwnerLogoutResult`` of the document."""

    status: Literal["logged_out"]


class TotpDisabledJson(TypedDict):
    """``TotpDisabled`` of the document."""

    status: Literal["totp_disabled"]


class ProfileJson(TypedDict):
    """``OwnerProfile`` of the document."""

    user_principal_id: str
    display_name: str
    status: str
    created_at: str
    identity_assurance_level: Literal["NONE"]
    system_roles: list[str]
    totp_enabled: bool
    backup_codes_remaining: int
    session_expires_at: str


class TotpEnrolmentJson(TypedDict):
    """``TotpEnrolment`` of the document."""

    secret: str
    uri: str
    qr_svg: str


class TotpEnabledJson(TypedDict):
    """``TotpEnabled`` of the document."""

    status: Literal["totp_enabled"]
    backup_codes: list[str]


def owner_created_json(owner: Owner) -> UserCreatedJson:
    """The answer of ``POST /v1/admin/users``: the owner, without ``system_roles``."""
    return {
        "user_principal_id": owner.user_principal_id,
        "display_name": owner.display_name,
        "status": owner.status,
        "identity_assurance_level": "NONE",
        "created_at": owner.created_at,
    }


def owner_json(owner: Owner) -> UserJson:
    """An owner as the admin's list shows it (``User`` of the document)."""
    return {**owner_created_json(owner), "system_roles": []}


def owners_json(owners: list[Owner]) -> UserListJson:
    return {"users": [owner_json(o) for o in owners]}


def invite_json(invite: IssuedInvite) -> InviteJson:
    """A new invite; its token is shown this once."""
    return {
        "invite_id": invite.invite_id,
        "invite_token": invite.invite_token,
        "expires_at": invite.expires_at,
    }


def setup_invite_json(invite: IssuedInvite, base_url: str) -> SetupInviteJson:
    """A setup invite with the portal link that redeems it."""
    return {
        **invite_json(invite),
        "setup_url": f"{base_url}/gui/login/setup?invite_id={invite.invite_id}"
        f"&invite_token={invite.invite_token}",
    }


def setup_done_json(owner_id: str) -> SetupDoneJson:
    return {"status": "setup_complete", "user_principal_id": owner_id}


def signed_in_json(done: SignedIn) -> SignedInJson:
    """The answer of a login: the session token and its CSRF token (the cookies are set apart)."""
    return {
        "token": done.token,
        "expires_at": done.expires_at,
        "user_principal_id": done.user_principal_id,
        "system_roles": [],
        "org_memberships": [],
        "csrf_token": done.csrf_token,
    }


LOGGED_OUT: Final[LoggedOutJson] = {"status": "logged_out"}
TOTP_DISABLED: Final[TotpDisabledJson] = {"status": "totp_disabled"}


def profile_json(profile: OwnerProfile) -> ProfileJson:
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


def totp_enrolment_json(enrolment: TotpEnrolment) -> TotpEnrolmentJson:
    """The new secret, shown to its owner once, to put into an authenticator app."""
    return {"secret": enrolment.secret, "uri": enrolment.uri, "qr_svg": enrolment.qr_svg}


def totp_enabled_json(backup_codes: list[str]) -> TotpEnabledJson:
    """TOTP on, with the backup codes, shown once."""
    return {"status": "totp_enabled", "backup_codes": backup_codes}
