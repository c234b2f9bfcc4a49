"""TOTP (RFC 6238) codes, their one-time use, set-up URI and QR code, and backup codes."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import segno

from openleash.crypto import totp

# RFC 6238 appendix B: the SHA-1 key is the ASCII text "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode().rstrip("=")
RFC_SHA1_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def test_rfc_secret_is_the_expected_base32_text() -> None:
    assert RFC_SECRET == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(("unix_time", "eight_digits"), RFC_SHA1_VECTORS)
def test_rfc6238_sha1_vectors_truncated_to_six_digits(unix_time: int, eight_digits: str) -> None:
    counter = unix_time // 30
    assert totp.counter_at(unix_time) == counter
    assert totp.code_at(RFC_SECRET, counter) == eight_digits[-6:]


@pytest.mark.parametrize(("unix_time", "eight_digits"), RFC_SHA1_VECTORS)
def test_rfc6238_codes_verify_at_their_time(unix_time: int, eight_digits: str) -> None:
    assert totp.verify(RFC_SECRET, eight_digits[-6:], unix_time, None) == unix_time // 30


def test_codes_keep_leading_zeros() -> None:
    # 1111111109 gives 07081804: the six-digit code is "081804", with its zero.
    code = totp.code_at(RFC_SECRET, 1111111109 // 30)
    assert code == "081804"
    assert len(code) == 6


def test_secret_is_accepted_in_lower_case_with_spaces_and_padding() -> None:
    grouped = " ".join(RFC_SECRET.lower()[i : i + 4] for i in range(0, 32, 4))
    assert totp.code_at(grouped, 1) == totp.code_at(RFC_SECRET, 1)
    assert totp.code_at("JBSWY3DPEHPK3PXP", 7) == totp.code_at("jbswy3dpehpk3pxp====", 7)


@pytest.mark.parametrize("bad", ["", "not base32!", "A", "ABC", "12345678", "ÄÄÄÄ"])
def test_malformed_secrets_raise(bad: str) -> None:
    with pytest.raises(ValueError):
        totp.code_at(bad, 1)


def test_new_secret_is_32_base32_characters_of_20_random_bytes() -> None:
    secrets_ = {totp.new_secret() for _ in range(50)}
    assert len(secrets_) == 50
    for secret in secrets_:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(base64.b32decode(secret)) == 20


# --- verification --------------------------------------------------------------------------

NOW = 1_700_000_015.0  # inside step 56_666_667
STEP = 56_666_667


def test_counter_at_floors_to_the_30_second_step() -> None:
    assert totp.counter_at(NOW) == STEP
    assert totp.counter_at(STEP * 30) == STEP
    assert totp.counter_at(STEP * 30 - 0.001) == STEP - 1
    with pytest.raises(ValueError):
        totp.counter_at(float("nan"))


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_one_step_of_drift_either_way_is_accepted(offset: int) -> None:
    code = totp.code_at(RFC_SECRET, STEP + offset)
    assert totp.verify(RFC_SECRET, code, NOW, None) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_codes_two_or_more_steps_away_are_refused(offset: int) -> None:
    code = totp.code_at(RFC_SECRET, STEP + offset)
    # Make sure the code is not accidentally equal to one inside the window.
    window = {totp.code_at(RFC_SECRET, STEP + d) for d in (-1, 0, 1)}
    assert code not in window
    assert totp.verify(RFC_SECRET, code, NOW, None) is None


def test_a_wrong_code_is_refused() -> None:
    right = totp.code_at(RFC_SECRET, STEP)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert totp.verify(RFC_SECRET, wrong, NOW, None) is None


def test_a_code_is_accepted_only_once() -> None:
    code = totp.code_at(RFC_SECRET, STEP)
    first = totp.verify(RFC_SECRET, code, NOW, None)
    assert first == STEP
    assert totp.verify(RFC_SECRET, code, NOW, first) is None
    assert totp.verify(RFC_SECRET, code, NOW + 10, first) is None


def test_an_older_code_cannot_follow_a_newer_one() -> None:
    newer = totp.verify(RFC_SECRET, totp.code_at(RFC_SECRET, STEP + 1), NOW, None)
    assert newer == STEP + 1
    older = totp.code_at(RFC_SECRET, STEP)
    assert totp.verify(RFC_SECRET, older, NOW, newer) is None


def test_the_next_code_after_the_last_accepted_one_passes() -> None:
    code = totp.code_at(RFC_SECRET, STEP)
    assert totp.verify(RFC_SECRET, code, NOW, STEP - 1) == STEP


@pytest.mark.parametrize(
    "malformed",
    ["", "12345", "1234567", " 123456", "123456\n", "12 3456", "１２３４５６", "12345a", "+12345"],
)
def test_codes_must_be_exactly_six_ascii_digits(malformed: str) -> None:
    # Build each malformed code around a code that is right now, so only the format refuses it.
    right = totp.code_at(RFC_SECRET, STEP)
    candidates = {malformed, malformed.replace("123456", right)}
    for candidate in candidates:
        assert totp.verify(RFC_SECRET, candidate, NOW, None) is None


def test_full_width_digits_of_the_right_code_are_refused() -> None:
    right = totp.code_at(RFC_SECRET, STEP)
    full_width = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in right)
    assert full_width.isdigit()
    assert totp.verify(RFC_SECRET, full_width, NOW, None) is None


def test_times_before_the_epoch_window_do_not_produce_negative_counters() -> None:
    code = totp.code_at(RFC_SECRET, 0)
    assert totp.verify(RFC_SECRET, code, 5.0, None) == 0
    assert totp.verify(RFC_SECRET, code, -20.0, None) == 0


# --- provisioning --------------------------------------------------------------------------


def test_provisioning_uri_has_the_key_uri_format() -> None:
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", "alice@example.com")
    assert uri == (
        "otpauth://totp/OpenLeash:alice@example.com?secret=JBSWY3DPEHPK3PXP"
        "&issuer=OpenLeash&algorithm=SHA1&digits=6&period=30"
    )


def test_provisioning_uri_encodes_label_and_parameters() -> None:
    uri = totp.provisioning_uri("jbsw y3dp ehpk 3pxp", "Ann Lee: ops/#1?&", issuer="Acme & Co")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert " " not in uri
    assert "#" not in uri
    # The label's only raw colon separates issuer and account.
    assert parts.path.count(":") == 1
    issuer, _, account = parts.path.lstrip("/").partition(":")
    assert unquote(issuer) == "Acme & Co"
    assert unquote(account) == "Ann Lee: ops/#1?&"
    query = parse_qs(parts.query, strict_parsing=True)
    assert query == {
        "secret": ["JBSWY3DPEHPK3PXP"],
        "issuer": ["Acme & Co"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }


def test_provisioning_uri_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        totp.provisioning_uri("JBSWY3DPEHPK3PXP", "a", issuer="Bad:Issuer")
    with pytest.raises(ValueError):
        totp.provisioning_uri("JBSWY3DPEHPK3PXP", "")
    with pytest.raises(ValueError):
        totp.provisioning_uri("not base32!", "a")


def _svg_modules(svg: str) -> tuple[int, set[tuple[int, int]]]:
    """Size in modules (quiet zone included) and the dark modules drawn by the path."""
    root = ET.fromstring(svg)  # noqa: S314 -- our own generated SVG, not untrusted input
    scale = 4
    size = int(root.attrib["width"]) // scale
    assert int(root.attrib["height"]) == size * scale
    dark: set[tuple[int, int]] = set()
    drawn = [p for p in root.iter("path") if p.get("class") == "qrline"]
    assert len(drawn) == 1
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", drawn[0].attrib["d"]):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:  # a horizontal run of dark modules, drawn along the middle of the row
            for column in range(int(x), int(x + float(a))):
                dark.add((int(y - 0.5), column))
            x += float(a)
    return size, dark


def test_qr_svg_is_an_inline_svg_element_without_prologue() -> None:
    svg = totp.qr_svg(totp.provisioning_uri(totp.new_secret(), "alice@example.com"))
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert "<script" not in svg.lower()
    root = ET.fromstring(svg)  # noqa: S314 -- our own generated SVG, not untrusted input
    assert root.tag == "svg"
    assert root.find("title") is not None


def test_qr_svg_draws_the_qr_symbol_of_the_uri_with_a_quiet_zone() -> None:
    uri = totp.provisioning_uri(RFC_SECRET, "alice@example.com")
    size, dark = _svg_modules(totp.qr_svg(uri))
    symbol = segno.make(uri, error="m", micro=False)
    assert symbol.error in ("M", "Q", "H")  # at least medium error correction
    width, _ = symbol.symbol_size(border=0)
    assert size == width + 8  # four light modules on each side
    expected = {
        (row + 4, column + 4)
        for row, line in enumerate(symbol.matrix)
        for column, module in enumerate(line)
        if module
    }
    assert dark == expected


def test_qr_svg_differs_for_different_uris_and_is_stable() -> None:
    first = totp.qr_svg("otpauth://totp/OpenLeash:a?secret=JBSWY3DPEHPK3PXP")
    second = totp.qr_svg("otpauth://totp/OpenLeash:b?secret=JBSWY3DPEHPK3PXP")
    assert first != second
    assert first == totp.qr_svg("otpauth://totp/OpenLeash:a?secret=JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in first  # the secret is only in the symbol, not in text


# --- backup codes --------------------------------------------------------------------------


def test_backup_alphabet_has_32_unambiguous_characters() -> None:
    assert len(totp.BACKUP_ALPHABET) == 32
    assert len(set(totp.BACKUP_ALPHABET)) == 32
    assert not set("ilou") & set(totp.BACKUP_ALPHABET)
    # 10 characters of 32 give 50 bits.
    assert 32**totp.BACKUP_CODE_LENGTH >= 2**50


def test_new_backup_codes_are_formatted_distinct_and_from_the_alphabet() -> None:
    codes = totp.new_backup_codes()
    assert len(codes) == 8
    assert len(set(codes)) == 8
    for code in codes:
        assert re.fullmatch(r"[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}", code)
    assert len(totp.new_backup_codes(3)) == 3
    with pytest.raises(ValueError):
        totp.new_backup_codes(0)


def test_backup_codes_use_the_whole_alphabet() -> None:
    seen = set("".join(totp.new_backup_codes(200)).replace("-", ""))
    assert seen == set(totp.BACKUP_ALPHABET)


def test_backup_code_hash_is_sha256_of_the_normalised_code() -> None:
    expected = hashlib.sha256(b"abcde23456").hexdigest()
    assert totp.hash_backup_code("abcde-23456") == expected
    assert totp.hash_backup_code("ABCDE 23456") == expected
    assert totp.hash_backup_code(" abcde23456 ") == expected


def test_look_alike_letters_are_read_as_digits() -> None:
    assert totp.hash_backup_code("OIL00-abcde") == totp.hash_backup_code("01100-abcde")


def test_match_backup_code_returns_the_index_of_the_matching_hash() -> None:
    codes = totp.new_backup_codes(5)
    hashes = [totp.hash_backup_code(code) for code in codes]
    for index, code in enumerate(codes):
        assert totp.match_backup_code(code, hashes) == index
        assert totp.match_backup_code(code.upper().replace("-", " "), hashes) == index
    assert totp.match_backup_code(codes[2], hashes[:2] + hashes[3:]) is None


def test_match_backup_code_refuses_malformed_or_unknown_codes() -> None:
    hashes = [totp.hash_backup_code("abcde-23456")]
    assert totp.match_backup_code("abcde-23457", hashes) is None
    assert totp.match_backup_code("abcde-2345", hashes) is None
    assert totp.match_backup_code("", [hashlib.sha256(b"").hexdigest()]) is None
    assert totp.match_backup_code("abcde-23456", []) is None
    # A stored hash of something that is not a valid code never matches.
    assert totp.match_backup_code("abcd!", [hashlib.sha256(b"abcd!").hexdigest()]) is None


def test_match_backup_code_accepts_upper_case_stored_hashes() -> None:
    stored = totp.hash_backup_code("abcde-23456").upper()
    assert totp.match_backup_code("abcde-23456", ["0" * 64, stored]) == 1


def test_a_long_account_name_still_makes_a_drawable_code() -> None:
    """Owner names may be long, in any script; the code drawn from them must not overflow."""
    name = "長い名前" * 1_000
    uri = totp.provisioning_uri(totp.new_secret(), name)
    label = unquote(urlsplit(uri).path)
    assert label == "/OpenLeash:" + name[: totp.MAX_ACCOUNT_CHARS]
    assert totp.qr_svg(uri).startswith("<svg")
