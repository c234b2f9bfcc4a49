"""The names of the owner's cookies (HTTP only: the use cases know sessions and device tokens,
not how a browser carries them)."""

from __future__ import annotations

from openleash.service.owner_auth import DEVICE_TOKEN_TTL_SECONDS

#: The session token of a signed-in browser (HttpOnly, SameSite=Lax).
SESSION_COOKIE = "openleash_session"
#: Marks a browser the owner signed in with: its logins still go through while strangers'
#: guesses keep the account locked. Holds the device token of the last login.
DEVICE_COOKIE = "openleash_device"
#: The device cookie lives as long as the device token it holds.
DEVICE_COOKIE_MAX_AGE = DEVICE_TOKEN_TTL_SECONDS
