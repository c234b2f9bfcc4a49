"""Redaction paths: the strict grammar, what they replace, and the `audit.redact` setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from openleash.config import load_settings
from openleash.domain.errors import OpenLeashError
from openleash.domain.redaction import REDACTED, compile_redaction, redact

ACTION = {
    "action_type": "purchase",
    "payload": {
        "card_number": "4111",
        "items": [{"sku": "a", "secret": 1}, {"sku": "b", "secret": 2}],
        "odd key": "x",
    },
}


def test_each_kind_of_segment() -> None:
    redacted = redact(
        ACTION,
        (
            "$.payload.card_number",
            "$.payload.items[*].secret",
            "$.payload['odd key']",
            "$.action_type",
        ),
    )

    assert redacted == {
        "action_type": REDACTED,
        "payload": {
            "card_number": REDACTED,
            "items": [{"sku": "a", "secret": REDACTED}, {"sku": "b", "secret": REDACTED}],
            "odd key": REDACTED,
        },
    }


def test_indexes_wildcards_and_whole_subtrees() -> None:
    assert redact(ACTION, ("$.payload.items[1]",))["payload"]["items"] == [
        {"sku": "a", "secret": 1},
        REDACTED,
    ]
    assert redact(ACTION, ("$.payload.*",))["payload"] == {
        "card_number": REDACTED,
        "items": REDACTED,
        "odd key": REDACTED,
    }
    assert redact(ACTION, ("$.payload",))["payload"] == REDACTED


def test_the_original_is_untouched_and_missing_paths_are_skipped() -> None:
    before = repr(ACTION)

    redacted = redact(ACTION, ("$.payload.card_number", "$.payload.nothing.here", "$.x[3]"))

    assert repr(ACTION) == before
    assert redacted["payload"]["items"] is ACTION["payload"]["items"]  # only the path is copied
    assert set(redacted) == set(ACTION)


@pytest.mark.parametrize(
    "path", ["payload.card", "$", "$.", "$..card", "$.a[x]", "$.a[*", "$.a*", "$['unclosed]"]
)
def test_paths_that_could_mean_something_else_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="redaction path"):
        compile_redaction(path)


def test_the_setting_is_read_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text('audit:\n  redact: ["$.payload.card_number", "$.payload.cards[*].cvv"]\n')

    settings = load_settings(config_path=config, data_dir=tmp_path, env={})

    assert settings.audit_redact == ("$.payload.card_number", "$.payload.cards[*].cvv")
    assert load_settings(config_path=tmp_path / "none.yaml", env={}).audit_redact == ()


@pytest.mark.parametrize("value", ['"$.payload.card"', '["payload.card"]', "[1]"])
def test_a_bad_setting_is_refused(tmp_path: Path, value: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"audit:\n  redact: {value}\n")

    with pytest.raises(OpenLeashError, match=r"audit\.redact"):
        load_settings(config_path=config, data_dir=tmp_path, env={})
