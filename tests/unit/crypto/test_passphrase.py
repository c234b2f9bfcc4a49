"""Owner passphrases: argon2id with the chosen cost, and verification that never raises."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from openleash.api.errors import status_of
from openleash.crypto import passphrase as pp
from openleash.crypto.errors import NotVerifiedError
from openleash.domain.errors import OpenLeashError

GOOD = "correct horse battery staple"


def _matches(stored: str, passphrase: str) -> bool:
    """Whether verify_passphrase accepts (it raises NotVerifiedError when it does not)."""
    try:
        pp.verify_passphrase(stored, passphrase)
    except NotVerifiedError:
        return False
    return True


@pytest.fixture(scope="module")
def stored() -> str:
    # One real hash shared by the tests that only read it: each costs about 45 ms.
    return pp.hash_passphrase(GOOD)


def test_hash_is_an_argon2id_phc_string_with_the_module_parameters(stored: str) -> None:
    assert stored.startswith("$argon2id$v=19$")
    params = extract_parameters(stored)
    assert params.type is Type.ID
    assert params.memory_cost == pp.MEMORY_COST_KIB == 32 * 1024
    assert params.time_cost == pp.TIME_COST == 2
    assert params.parallelism == pp.PARALLELISM == 1
    assert params.salt_len == 16
    assert params.hash_len == 32


def test_each_hash_has_its_own_salt(stored: str) -> None:
    again = pp.hash_passphrase(GOOD)
    assert again != stored
    assert _matches(again, GOOD)


def test_the_right_passphrase_verifies_and_others_do_not(stored: str) -> None:
    assert _matches(stored, GOOD) is True
    assert _matches(stored, GOOD + " ") is False
    assert _matches(stored, GOOD.upper()) is False
    assert _matches(stored, "") is False


def test_unicode_forms_of_the_same_passphrase_match() -> None:
    composed = "caf\u00e9 au lait, sans sucre"
    decomposed = "cafe\u0301 au lait, sans sucre"
    assert composed != decomposed
    assert _matches(pp.hash_passphrase(composed), decomposed)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=32768,t=2,p=1$",
        "$argon2id$v=19$m=32768,t=2,p=1$c2FsdA$aGFzaA",  # well-formed, wrong
        "$argon2id$v=19$m=abc,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
        "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA",
        "\u00e9" * 40,
    ],
)
def test_malformed_stored_hashes_are_no_match_and_never_raise(bad: str) -> None:
    assert _matches(bad, GOOD) is False
    assert pp.needs_rehash(bad) is True


def test_a_damaged_copy_of_a_real_hash_does_not_verify(stored: str) -> None:
    head, _, digest = stored.rpartition("$")
    flipped = ("A" if digest[0] != "A" else "B") + digest[1:]
    assert _matches(f"{head}${flipped}", GOOD) is False
    assert _matches(stored[:-4], GOOD) is False
    # The C library stops at a NUL: trailing bytes after one must not slip through.
    assert _matches(stored + "\x00junk", GOOD) is False


def test_non_text_arguments_are_no_match(stored: str) -> None:
    assert _matches(None, GOOD) is False  # type: ignore[arg-type]  # misuse on purpose
    assert _matches(stored, None) is False  # type: ignore[arg-type]  # misuse on purpose


def test_a_hash_asking_for_huge_memory_is_refused_without_running_it(stored: str) -> None:
    huge = stored.replace("m=32768", "m=4194304")  # 4 GiB
    started = time.perf_counter()
    assert _matches(huge, GOOD) is False
    assert time.perf_counter() - started < 0.5  # running it would take seconds


def test_current_hashes_need_no_rehash(stored: str) -> None:
    assert pp.needs_rehash(stored) is False


@pytest.mark.parametrize(
    "older",
    [
        PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),  # weaker cost
        PasswordHasher(time_cost=2, memory_cost=32 * 1024, parallelism=1, type=Type.I),
        PasswordHasher(time_cost=2, memory_cost=32 * 1024, parallelism=2),
    ],
)
def test_hashes_made_otherwise_still_verify_but_need_rehash(older: PasswordHasher) -> None:
    legacy = older.hash(GOOD)
    assert _matches(legacy, GOOD) is True
    assert _matches(legacy, "wrong passphrase!") is False
    assert pp.needs_rehash(legacy) is True


def test_hashing_takes_tens_of_milliseconds() -> None:
    # Guards against the cost being lowered by accident; the upper bound is generous for CI.
    started = time.perf_counter()
    pp.hash_passphrase(GOOD)
    elapsed = time.perf_counter() - started
    assert 0.01 < elapsed < 1.0


def test_minimum_length_is_twelve() -> None:
    assert pp.MIN_PASSPHRASE_LENGTH == 12
    pp.check_passphrase_policy("a" * 12)
    pp.check_passphrase_policy("twelve chars")


@pytest.mark.parametrize("short", ["a" * 11, "short", "  eleven ch  ", "a\u0301" * 5])
def test_short_passphrases_are_refused_with_the_minimum_named(short: str) -> None:
    with pytest.raises(OpenLeashError) as exc:
        pp.check_passphrase_policy(short)
    assert exc.value.code == "VALIDATION_ERROR"
    assert status_of(exc.value) == 400
    assert "at least 12 characters" in exc.value.message


@pytest.mark.parametrize("blank", ["", " " * 20, "\t\n" * 8, "\u3000" * 12])
def test_blank_passphrases_are_refused(blank: str) -> None:
    with pytest.raises(OpenLeashError) as exc:
        pp.check_passphrase_policy(blank)
    assert exc.value.code == "VALIDATION_ERROR"
    assert "blank" in exc.value.message
    assert "at least 12 characters" in exc.value.message


def test_length_ignores_surrounding_whitespace_but_counts_inner_spaces() -> None:
    with pytest.raises(OpenLeashError):
        pp.check_passphrase_policy("   abcdefghijk   ")  # 11 characters inside
    pp.check_passphrase_policy("abc def ghij")  # 12 with the inner spaces


def test_absurdly_long_passphrases_are_refused() -> None:
    pp.check_passphrase_policy("x" * pp.MAX_PASSPHRASE_LENGTH)
    with pytest.raises(OpenLeashError) as exc:
        pp.check_passphrase_policy("x" * (pp.MAX_PASSPHRASE_LENGTH + 1))
    assert exc.value.code == "VALIDATION_ERROR"
