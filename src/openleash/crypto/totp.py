"""Time-based one-time passwords (RFC 6238) and single-use backup codes for owners.

TOTP here is fixed to what every authenticator app supports: HMAC-SHA-1, 6 digits, a 30 second
step, and one step of drift either way. Time is a parameter; the caller stores the last accepted
counter and passes it back so that a code is accepted at most once.

Backup codes are 10 characters from a 32-letter alphabet (50 bits each). Only their SHA-256 is
stored; codes are single-use and tried online, where 50 bits is far beyond reach.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
import struct
from urllib.parse import quote

import segno

DIGITS = 6
STEP_SECONDS = 30
WINDOW = 1
SECRET_BYTES = 20

_CODE = re.compile(r"[0-9]{6}")
_MODULUS = 10**DIGITS
_MAX_COUNTER = 2**64 - 1

#: Crockford's base-32 alphabet in lower case: no i, l, o or u. When a code is read back, the
#: look-alikes o, i and l are taken as 0, 1 and 1, so a misread letter still matches.
BACKUP_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
BACKUP_CODE_LENGTH = 10
_LOOKALIKES = str.maketrans({"o": "0", "i": "1", "l": "1", "-": None, " ": None})
_BACKUP_CODE = re.compile(f"[{BACKUP_ALPHABET}]{{{BACKUP_CODE_LENGTH}}}")


def new_secret() -> str:
    """20 random bytes as RFC 4648 base32 without padding: 32 upper-case characters."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _secret_bytes(secret_b32: str) -> bytes:
    # Accept the forms people copy secrets in: lower case, grouped with spaces, no padding.
    text = secret_b32.replace(" ", "").replace("-", "").upper().rstrip("=")
    text += "=" * (-len(text) % 8)
    try:
        key = base64.b32decode(text)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("TOTP secret is not valid base32") from exc
    if not key:
        raise ValueError("TOTP secret is empty")
    return key


def _hotp(key: bytes, counter: int) -> str:
    if not 0 <= counter <= _MAX_COUNTER:
        raise ValueError("TOTP counter out of range")
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    # RFC 4226 §5.3 dynamic truncation: 31 bits taken at the offset named by the last nibble.
    offset = mac[-1] & 0x0F
    (value,) = struct.unpack(">I", mac[offset : offset + 4])
    return f"{(value & 0x7FFFFFFF) % _MODULUS:0{DIGITS}d}"


def code_at(secret_b32: str, counter: int) -> str:
    """The 6-digit code for time step ``counter`` (``floor(unix_time / 30)``)."""
    return _hotp(_secret_bytes(secret_b32), counter)


def counter_at(now_s: float) -> int:
    """The time step that contains ``now_s`` (Unix seconds)."""
    if not math.isfinite(now_s):
        raise ValueError("time must be a finite number of seconds")
    return math.floor(now_s / STEP_SECONDS)


def verify(secret_b32: str, code: str, now_s: float, last_counter: int | None) -> int | None:
    """The counter ``code`` belongs to, or None when it is wrong, malformed or already used.

    Accepts the current step and one step either side. A step at or before ``last_counter``
    (the last one accepted for this owner) is refused, so each code works once at most and an
    older code cannot follow a newer one.
    """
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        return None
    key = _secret_bytes(secret_b32)
    current = counter_at(now_s)
    matched: int | None = None
    # Nearest step first; every candidate is computed and compared, whatever matched before.
    for candidate in (current, current - 1, current + 1):
        if candidate < 0 or candidate > _MAX_COUNTER:
            continue
        if last_counter is not None and candidate <= last_counter:
            continue
        if hmac.compare_digest(_hotp(key, candidate), code) and matched is None:
            matched = candidate
    return matched


#: The characters of the account name an ``otpauth://`` URI carries (the rest is dropped).
MAX_ACCOUNT_CHARS = 64


def provisioning_uri(secret: str, account_name: str, issuer: str = "OpenLeash") -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    if ":" in issuer:
        raise ValueError("the issuer must not contain ':'")
    if not account_name:
        raise ValueError("the account name must not be empty")
    key = secret.replace(" ", "").upper().rstrip("=")
    _secret_bytes(key)
    # Apps show a few dozen characters of the account; a longer name (any script) would only
    # make the QR code too large to draw.
    account = account_name[:MAX_ACCOUNT_CHARS]
    label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
    query = "&".join(
        f"{name}={quote(value, safe='')}"
        for name, value in (
            ("secret", key),
            ("issuer", issuer),
            ("algorithm", "SHA1"),
            ("digits", str(DIGITS)),
            ("period", str(STEP_SECONDS)),
        )
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """The URI as a QR code: an inline ``<svg>`` element for an HTML page (no XML prologue).

    Error correction M or better; the quiet zone of four modules that scanners need is kept.
    """
    qr = segno.make(uri, error="m", micro=False)
    return qr.svg_inline(scale=4, border=4, title="TOTP set-up code", dark="#000", light="#fff")


def new_backup_codes(n: int = 8) -> list[str]:
    """``n`` fresh codes formatted ``xxxxx-xxxxx``; show them once, store only their hashes."""
    if n < 1:
        raise ValueError("at least one backup code is needed")
    codes = []
    for _ in range(n):
        raw = "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalise_backup_code(code: str) -> str:
    """Lower case, hyphens and spaces removed, look-alike letters read as digits."""
    return code.strip().lower().translate(_LOOKALIKES)


def hash_backup_code(code: str) -> str:
    """SHA-256 (hex) of the normalised code: what is stored."""
    return hashlib.sha256(normalise_backup_code(code).encode("utf-8")).hexdigest()


def match_backup_code(code: str, hashes: list[str]) -> int | None:
    """Index in ``hashes`` of the hash of ``code``, or None.

    Every stored hash is compared in constant time, whether or not an earlier one matched; the
    caller removes the matched hash in the same transaction that accepts the code.
    """
    if not isinstance(code, str) or not _BACKUP_CODE.fullmatch(normalise_backup_code(code)):
        return None
    candidate = hash_backup_code(code).encode("ascii")
    matched: int | None = None
    for index, stored in enumerate(hashes):
        if hmac.compare_digest(candidate, stored.lower().encode("utf-8")) and matched is None:
            matched = index
    return matched
