"""Wire models of the owner's sign-in, session, profile and TOTP routes, and what the other
owner models (:mod:`~openleash.api.wire.owner_agents`, :mod:`~openleash.api.wire.owner_policies`,
:mod:`~openleash.api.wire.owner_approvals`) share: the second factor a change may need and the
example values.

The request models document the bodies; the services read them (their codes and messages are
part of the wire: ``VALIDATION_ERROR`` with ``field_errors`` and so on), so an empty string
counts as absent where the models say a field is optional.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from openleash.api.wire.common import WireModel
from openleash.api.wire.fields import (
    EXAMPLE_OWNER_ID,
    EXAMPLE_TIME,
    AnyJsonObject,
    time_field,
    uuid_field,
)
from openleash.crypto.passphrase import MIN_PASSPHRASE_LENGTH
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import Status
from openleash.service.bodies import MAX_TEXT

# Example values of the owner models (with those of openleash.api.wire.fields).
AGENT_ID = "shopping-agent"
POLICY_ID = "c4a1e2b3-7d6f-4e5a-9b8c-0f1e2d3c4b5a"
APPROVAL_REQUEST_ID = "2e7f9a1b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
DECISION_ID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
POLICY_DRAFT_ID = "d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a"
#: Eight hours after ``EXAMPLE_TIME``: when an example session or request ends.
LATER = "2026-12-03T23:04:05.123Z"
SESSION_EXAMPLE = "v4.public.eyJpc3MiOiJvcGVubGVhc2giLCJzdWIiOiIwZDlmOGU3Yy02YjVh..."
POLICY_YAML = (
    "version: 1\ndefault: deny\nrules:\n"
    "  - id: small_purchases\n    effect: allow\n    action: purchase\n"
    "    constraints: { amount_max: 10000 }\n"
)


def examples(*values: JsonObject) -> ConfigDict:
    """A model's configuration that shows ``values`` as its examples in the document."""
    return ConfigDict(json_schema_extra={"examples": list(values)})


class SecondFactor(WireModel):
    """What a change needs when the owner has TOTP on: a current code (or a backup code)."""

    second_factor_lock = True

    totp_code: str | None = Field(
        default=None,
        description="A current TOTP code or an unused backup code. Required when the owner has "
        "TOTP on (or the server requires TOTP): 403 `TOTP_REQUIRED` without it, 403 "
        "`TOTP_SETUP_REQUIRED` when TOTP is required but not set up. Ignored otherwise.",
        examples=["492039"],
    )


class OwnerDenyBody(SecondFactor):
    model_config = examples({}, {"reason": "Too broad", "totp_code": "492039"})

    reason: Annotated[str, Field(max_length=MAX_TEXT)] | None = Field(
        default=None,
        description=f"Why, for the agent (trimmed; at most {MAX_TEXT} characters).",
    )


# -- set-up and login -----------------------------------------------------------------------------


class OwnerSetupBody(WireModel):
    model_config = examples(
        {
            "invite_id": "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a",
            "invite_token": "q0Vb1w7mYh3kR2tN8sXc4Lz6Pd9Jf5Ga1Ue0Ho7Ki3M",
            "passphrase": "correct horse battery staple",
        }
    )

    invite_id: str = Field(
        min_length=1,
        description="The setup invite's id (from the operator: "
        "`POST /v1/admin/users/{id}/setup-invite`).",
    )
    invite_token: str = Field(min_length=1, description="The setup invite's secret token.")
    passphrase: str = Field(
        min_length=1,
        description=f"The new passphrase: at least {MIN_PASSPHRASE_LENGTH} characters, not "
        "counting leading and trailing spaces (400 `VALIDATION_ERROR` otherwise). Replaces any "
        "earlier one and ends every open session.",
    )


class OwnerSetupResult(BaseModel):
    model_config = examples({"status": "setup_complete", "user_principal_id": EXAMPLE_OWNER_ID})

    status: Literal["setup_complete"] = Field(description="The passphrase is set.")
    user_principal_id: str = uuid_field("The owner the invite was for; log in with it.")


class OwnerLoginBody(WireModel):
    model_config = examples(
        {"user_principal_id": EXAMPLE_OWNER_ID, "passphrase": "correct horse battery staple"},
        {
            "user_principal_id": EXAMPLE_OWNER_ID,
            "passphrase": "correct horse battery staple",
            "totp_code": "492039",
        },
    )

    user_principal_id: str = Field(min_length=1, description="The owner's id.")
    passphrase: str = Field(min_length=1, description="The owner's passphrase.")
    totp_code: str | None = Field(
        default=None,
        description="A current TOTP code or an unused backup code; required when the owner has "
        "TOTP on (403 `TOTP_REQUIRED` without it, once the passphrase is right).",
    )


class OwnerLoginResult(BaseModel):
    """A new session. The response also sets the cookies ``openleash_session`` (HttpOnly),
    ``openleash_csrf`` and ``openleash_device`` (HttpOnly, marks this client for the login
    lock)."""

    model_config = examples(
        {
            "token": SESSION_EXAMPLE,
            "expires_at": LATER,
            "user_principal_id": EXAMPLE_OWNER_ID,
            "system_roles": [],
            "org_memberships": [],
            "csrf_token": "mX2c7Qe9Vb4nT1kR8sYw3Lp6Jd0Hf5Ga2Uz7Io4Ke1N",
        }
    )

    token: str = Field(description="The session token: send it as `Authorization: Bearer <token>`.")
    expires_at: str = time_field("When the session ends.")
    user_principal_id: str = uuid_field("The owner signed in.")
    system_roles: list[str] = Field(description="Always empty: owners have no system roles.")
    org_memberships: list[AnyJsonObject] = Field(
        description="Always empty: this server has no organizations."
    )
    csrf_token: str = Field(
        description="The session's CSRF token: a client authenticated by the session cookie "
        "sends it in `X-CSRF-Token` with every change."
    )


class OwnerLogoutResult(BaseModel):
    model_config = examples({"status": "logged_out"})

    status: Literal["logged_out"] = Field(
        description="The session is ended; its token and cookie no longer work."
    )


class OwnerProfile(BaseModel):
    """The signed-in owner, without secrets."""

    model_config = examples(
        {
            "user_principal_id": EXAMPLE_OWNER_ID,
            "display_name": "Ada",
            "status": "ACTIVE",
            "created_at": EXAMPLE_TIME,
            "identity_assurance_level": "NONE",
            "system_roles": [],
            "totp_enabled": True,
            "backup_codes_remaining": 7,
            "session_expires_at": LATER,
        }
    )

    user_principal_id: str = uuid_field("The owner's id.")
    display_name: str = Field(description="The owner's name, as the operator gave it.")
    status: Status = Field(description="Always `ACTIVE` (an inactive owner cannot sign in).")
    created_at: str = time_field("When the owner was created.")
    identity_assurance_level: Literal["NONE"] = Field(
        description="Always `NONE`: this server verifies no identities."
    )
    system_roles: list[str] = Field(description="Always empty.")
    totp_enabled: bool = Field(description="Whether TOTP is on for this owner.")
    backup_codes_remaining: int = Field(description="Unused backup codes left.", ge=0)
    session_expires_at: str = time_field("When this session ends.")


# -- TOTP -----------------------------------------------------------------------------------------


class TotpSetupBody(WireModel):
    model_config = examples({}, {"code": "492039"})
    second_factor_lock = True

    code: str | None = Field(
        default=None,
        description="While TOTP is on, enrolling a new authenticator needs a current code or a "
        "backup code (403 `TOTP_REQUIRED` without it, 400 `INVALID_TOTP_CODE` when wrong). "
        "Ignored while TOTP is off.",
    )


class TotpEnrolment(BaseModel):
    """A new TOTP secret, pending until a code of it is confirmed
    (``POST /v1/owner/totp/confirm``); the one in force until then stays."""

    model_config = examples(
        {
            "secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "uri": "otpauth://totp/OpenLeash:Ada?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
            "&issuer=OpenLeash&algorithm=SHA1&digits=6&period=30",
            "qr_svg": '<svg xmlns="http://www.w3.org/2000/svg" ...></svg>',
        }
    )

    secret: str = Field(description="The secret, base32 (shown this once).")
    uri: str = Field(description="The `otpauth://` URI authenticator apps read.")
    qr_svg: str = Field(description="The URI as a QR code, an SVG document.")


class TotpConfirmBody(WireModel):
    model_config = examples({"code": "492039"})

    code: str = Field(
        min_length=1,
        description="A current code of the pending secret (400 `TOTP_NOT_SETUP` when none is "
        "pending, 400 `INVALID_TOTP_CODE` when wrong).",
    )


class TotpEnabled(BaseModel):
    model_config = examples(
        {
            "status": "totp_enabled",
            "backup_codes": ["k3v9q-x7m2p", "a8r4t-n6w1z", "c5y2h-j9d3f", "e1u7b-g4s8k"],
        }
    )

    status: Literal["totp_enabled"] = Field(description="TOTP is on.")
    backup_codes: list[str] = Field(
        description="Fresh single-use backup codes, replacing any earlier ones (shown this once)."
    )


class TotpDisableBody(WireModel):
    model_config = examples({"code": "492039"})
    second_factor_lock = True

    code: str = Field(
        min_length=1,
        description="A current TOTP code or an unused backup code (400 `INVALID_TOTP_CODE` when "
        "wrong).",
    )


class TotpDisabled(BaseModel):
    model_config = examples({"status": "totp_disabled"})

    status: Literal["totp_disabled"] = Field(
        description="TOTP is off and the backup codes are gone."
    )
