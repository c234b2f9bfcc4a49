"""Owner passphrases, stored as argon2id hashes in the PHC string format.

A stored hash names its own algorithm, version, parameters and salt, so parameters can be raised
later: :func:`needs_rehash` tells the caller to store a fresh hash after the next successful
login. Passphrases are compared after Unicode NFKC normalisation, so the same passphrase typed on
two keyboards that produce different code points for one character still matches.
"""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from openleash.crypto.errors import NotVerifiedError
from openleash.domain.errors import InvalidInputError

MIN_PASSPHRASE_LENGTH = 12
#: Far above any real passphrase; only bounds the work a single request can ask for.
MAX_PASSPHRASE_LENGTH = 1024

# argon2id, 2 passes over 32 MiB, one lane. Measured on the 2-core reference machine: about
# 45 ms per hash or verification (t=2/19 MiB took 19 ms, t=2/46 MiB 72 ms, t=2/64 MiB 107 ms).
# This is above the OWASP minimum (19 MiB, t=2) while keeping a login well under 100 ms and
# letting two concurrent logins use at most 64 MiB. One lane because the server handles other
# requests on the second core.
TIME_COST = 2
MEMORY_COST_KIB = 32 * 1024
PARALLELISM = 1
HASH_LEN = 32
SALT_LEN = 16

# A stored hash asking for more than this is not ours and is refused before any work is done:
# a tampered record must not be able to make one login allocate gigabytes.
_MAX_MEMORY_COST_KIB = 1024 * 1024
_MAX_TIME_COST = 16
_MAX_PARALLELISM = 8

_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LEN,
    salt_len=SALT_LEN,
    type=Type.ID,
)


def _normalise(passphrase: str) -> str:
    return unicodedata.normalize("NFKC", passphrase)


def check_passphrase_policy(passphrase: str) -> None:
    """Raise ``VALIDATION_ERROR`` unless the passphrase is long enough to be set.

    Length counts characters (after normalisation), ignoring leading and trailing whitespace.
    """
    text = _normalise(passphrase).strip()
    if not text:
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"The passphrase is blank; it must be at least {MIN_PASSPHRASE_LENGTH} characters long",
        )
    if len(text) < MIN_PASSPHRASE_LENGTH:
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"The passphrase is too short; it must be at least {MIN_PASSPHRASE_LENGTH} "
            f"characters long (got {len(text)})",
        )
    if len(text) > MAX_PASSPHRASE_LENGTH:
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"The passphrase is too long; it must be at most {MAX_PASSPHRASE_LENGTH} characters",
        )


def hash_passphrase(passphrase: str) -> str:
    """A fresh argon2id PHC string (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``)."""
    return _HASHER.hash(_normalise(passphrase))


def verify_passphrase(stored: str, passphrase: str) -> None:
    """Return only when ``passphrase`` matches ``stored``; raise :class:`NotVerifiedError`
    otherwise: for a wrong passphrase and for an unreadable, foreign or oversized stored hash
    alike (none of them is a match, and argon2's own errors never escape)."""
    if not isinstance(stored, str) or not isinstance(passphrase, str):
        raise NotVerifiedError("the passphrase does not match")
    if "\x00" in stored:
        # The argon2 C library reads the hash as a C string and would ignore what follows.
        raise NotVerifiedError("the passphrase does not match")
    try:
        params = extract_parameters(stored)
        matched = _within_bounds(params.memory_cost, params.time_cost, params.parallelism) and (
            _HASHER.verify(stored, _normalise(passphrase))
        )
    except (VerificationError, InvalidHashError, ValueError):
        # VerificationError covers a mismatch and argon2's own decoding failures; ValueError a
        # stored text that is not ASCII or has non-numeric parameters.
        matched = False
    if not matched:
        raise NotVerifiedError("the passphrase does not match")


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was not made with the current algorithm and parameters.

    An unreadable hash also needs replacing, so it answers True rather than raising.
    """
    try:
        return _HASHER.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


def _within_bounds(memory_cost: int, time_cost: int, parallelism: int) -> bool:
    return (
        0 < memory_cost <= _MAX_MEMORY_COST_KIB
        and 0 < time_cost <= _MAX_TIME_COST
        and 0 < parallelism <= _MAX_PARALLELISM
    )
