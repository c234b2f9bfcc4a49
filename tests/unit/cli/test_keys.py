"""`openleash keys`: list, rotate and revoke the server's signing keys."""

from __future__ import annotations

from .conftest import Cli


def test_list_shows_the_first_key_as_active(run: Cli) -> None:
    result = run("keys", "list")

    assert result.exit_code == 0
    (line,) = result.output.splitlines()
    assert line.endswith("active")


def test_rotate_then_revoke_the_old_key(run: Cli) -> None:
    assert run("keys", "list").exit_code == 0
    (old,) = run.query(lambda s: s.keys.list_all())

    rotated = run("keys", "rotate")
    revoked = run("keys", "revoke", old.kid)

    assert rotated.exit_code == 0, rotated.output
    assert revoked.exit_code == 0, revoked.output
    first, second = run.query(lambda s: s.keys.list_all())
    assert first.kid == old.kid
    assert first.revoked_at is not None
    assert second.active
    assert second.kid in rotated.output
    listed = run("keys", "list").output
    assert "revoked" in listed
    assert "active" in listed


def test_revoking_the_active_key_fails_clearly(run: Cli) -> None:
    assert run("keys", "list").exit_code == 0
    (active,) = run.query(lambda s: s.keys.list_all())

    result = run("keys", "revoke", active.kid)

    assert result.exit_code == 1
    assert "openleash keys rotate" in result.stderr
    (still,) = run.query(lambda s: s.keys.list_all())
    assert still.revoked_at is None


def test_revoking_an_unknown_key_fails(run: Cli) -> None:
    result = run("keys", "revoke", "no-such-kid")

    assert result.exit_code == 1
    assert "KEY_NOT_FOUND" in result.stderr
