"""Owners' accounts, use case by use case: creation, set-up by invite, login (and its locks),
sessions, profile, TOTP and the second factor other use cases ask for."""

from __future__ import annotations

import pytest

from openleash.crypto import totp
from openleash.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    TooManyRequestsError,
)
from openleash.domain.models import AssuranceLevel
from openleash.service.owner_auth import (
    FactorCode,
    LoginAttempt,
    NewOwner,
    OwnerAccounts,
    OwnerCall,
    OwnerSetup,
    SecondFactorError,
    TotpCode,
    check_second_factor,
    factor_attempts,
    login_locks,
)
from openleash.service.owners import IssuedInvite

from .conftest import World

PASSPHRASE = "a passphrase long enough"


def _accounts(world: World) -> OwnerAccounts:
    return OwnerAccounts(world.store, world.runtime, world.options)


async def _set_passphrase(accounts: OwnerAccounts, owner_id: str) -> IssuedInvite:
    invite = await accounts.setup_invite(owner_id)
    done = await accounts.set_up(OwnerSetup(invite.invite_id, invite.invite_token, PASSPHRASE))
    assert done == owner_id
    return invite


async def _signed_in(world: World, accounts: OwnerAccounts) -> OwnerCall:
    owner_id = world.owner.user_principal_id
    done = await accounts.login(
        LoginAttempt(owner_id, PASSPHRASE), address="10.0.0.1", locks=login_locks(world.options)
    )
    return await accounts.authenticate(done.token)


async def _totp_on(world: World, accounts: OwnerAccounts, call: OwnerCall) -> str:
    started = await accounts.start_totp(call, TotpCode(None))
    code = totp.code_at(started.secret, totp.counter_at(world.clock().timestamp()))
    codes = await accounts.confirm_totp(call, TotpCode(code))
    assert len(codes) == 8
    world.clock.advance(30)  # the next code: each is accepted once
    return started.secret


def _code(world: World, secret: str) -> str:
    return totp.code_at(secret, totp.counter_at(world.clock().timestamp()))


async def test_an_owner_is_created_listed_and_set_up_by_invite_once(world: World) -> None:
    accounts = _accounts(world)
    made = await accounts.create_owner(NewOwner.from_body({"display_name": "  Grace "}))
    assert made.display_name == "Grace"
    assert made in await accounts.list_owners()

    invite = await _set_passphrase(accounts, made.user_principal_id)
    again = OwnerSetup(invite.invite_id, invite.invite_token, PASSPHRASE)
    with pytest.raises(InvalidInputError) as used:
        await accounts.set_up(again)
    assert used.value.code == "INVITE_USED"
    with pytest.raises(NotFoundError) as unknown:
        await accounts.setup_invite("no-such-owner")
    assert unknown.value.code == "USER_NOT_FOUND"
    assert "USER_SETUP_COMPLETED" in await world.audit_types()


def test_commands_keep_the_wire_validation() -> None:
    with pytest.raises(InvalidInputError) as nameless:
        NewOwner.from_body({"display_name": " "})
    assert nameless.value.code == "VALIDATION_ERROR"
    assert NewOwner.from_body({"display_name": " " + "x" * 200}).display_name == "x" * 200
    with pytest.raises(InvalidInputError) as too_long:
        NewOwner.from_body({"display_name": "x" * 201})
    assert too_long.value.details == {"field_errors": {"display_name": "1 to 200 characters"}}
    with pytest.raises(InvalidInputError) as short:
        OwnerSetup.from_body({"invite_id": "i", "invite_token": "t", "passphrase": "short"})
    assert short.value.code == "VALIDATION_ERROR"
    with pytest.raises(InvalidInputError) as missing:
        LoginAttempt.from_body({"user_principal_id": "someone"})
    assert missing.value.details == {"field_errors": {"passphrase": "Required: a non-empty string"}}
    assert TotpCode.from_body({}, optional=True).code is None
    with pytest.raises(InvalidInputError):
        TotpCode.from_body({})


async def test_login_opens_a_session_and_logout_ends_it(world: World) -> None:
    accounts = _accounts(world)
    await _set_passphrase(accounts, world.owner.user_principal_id)
    call = await _signed_in(world, accounts)
    assert call.owner_id == world.owner.user_principal_id
    assert await accounts.still_signed_in(call)
    profile = await accounts.profile(call)
    assert (profile.totp_enabled, profile.backup_codes_remaining) == (False, 0)

    await accounts.logout(call)
    assert not await accounts.still_signed_in(call)
    with pytest.raises(AuthenticationError) as ended:
        await accounts.authenticate(None)
    assert ended.value.code == "MISSING_TOKEN"


async def test_a_wrong_passphrase_is_refused_and_locks_the_address(world: World) -> None:
    accounts = _accounts(world)
    await _set_passphrase(accounts, world.owner.user_principal_id)
    locks = login_locks(world.options)
    wrong = LoginAttempt(world.owner.user_principal_id, "not the passphrase at all")
    for _ in range(world.options.login_free_attempts):
        with pytest.raises(AuthenticationError) as refused:
            await accounts.login(wrong, address="10.0.0.9", locks=locks)
        assert refused.value.code == "INVALID_CREDENTIALS"
    right = LoginAttempt(world.owner.user_principal_id, PASSPHRASE)
    with pytest.raises(TooManyRequestsError):
        await accounts.login(right, address="10.0.0.9", locks=locks)
    # Another address is not slowed down by this one's failures.
    await accounts.login(right, address="10.0.0.10", locks=locks)
    assert "USER_LOGIN_FAILED" in await world.audit_types()


async def test_a_device_token_lets_the_owner_through_an_account_lock(world: World) -> None:
    accounts = _accounts(world)
    owner_id = world.owner.user_principal_id
    await _set_passphrase(accounts, owner_id)
    locks = login_locks(world.options)
    first = await accounts.login(LoginAttempt(owner_id, PASSPHRASE), address="a", locks=locks)
    wrong = LoginAttempt(owner_id, "not the passphrase at all")
    for n in range(world.options.login_account_free_attempts):
        with pytest.raises(AuthenticationError):
            await accounts.login(wrong, address=f"guesser-{n}", locks=locks)
    right = LoginAttempt(owner_id, PASSPHRASE)
    with pytest.raises(TooManyRequestsError) as locked:
        await accounts.login(right, address="b", locks=locks)
    assert locked.value.code == "LOGIN_LOCKED"
    done = await accounts.login(right, address="b", locks=locks, device=first.device_token)
    assert done.user_principal_id == owner_id


async def test_totp_is_enrolled_needed_at_login_and_disabled(world: World) -> None:
    accounts = _accounts(world)
    owner_id = world.owner.user_principal_id
    await _set_passphrase(accounts, owner_id)
    call = await _signed_in(world, accounts)
    secret = await _totp_on(world, accounts, call)
    assert (await accounts.profile(call)).totp_enabled

    locks = login_locks(world.options)
    with pytest.raises(ForbiddenError) as needed:
        await accounts.login(LoginAttempt(owner_id, PASSPHRASE), address="a", locks=locks)
    assert needed.value.code == "TOTP_REQUIRED"
    with_code = LoginAttempt(owner_id, PASSPHRASE, _code(world, secret))
    await accounts.login(with_code, address="a", locks=locks)

    world.clock.advance(30)
    call = world.owner_call()  # a call made now
    with pytest.raises(SecondFactorError):
        await accounts.disable_totp(call, TotpCode("000000"))
    await accounts.disable_totp(call, TotpCode(_code(world, secret)))
    assert not (await accounts.profile(call)).totp_enabled
    with pytest.raises(InvalidInputError) as off:
        await accounts.disable_totp(call, TotpCode("000000"))
    assert off.value.code == "TOTP_NOT_ENABLED"


async def test_confirming_totp_needs_a_started_enrolment(world: World) -> None:
    call = world.owner_call()
    with pytest.raises(InvalidInputError) as unstarted:
        await _accounts(world).confirm_totp(call, TotpCode("123456"))
    assert unstarted.value.code == "TOTP_NOT_SETUP"


async def test_the_second_factor_of_other_use_cases(world: World) -> None:
    accounts = _accounts(world)
    call = world.owner_call()
    async with world.store.transaction() as tx:
        level = await check_second_factor(
            tx, call.owner_id, FactorCode.from_body({"totp_code": 12}), call.now, world.options
        )
    assert level == AssuranceLevel.LOW, "without TOTP the code is ignored"
    secret = await _totp_on(world, accounts, call)

    async with world.store.transaction() as tx:
        with pytest.raises(InvalidInputError):
            await check_second_factor(tx, call.owner_id, FactorCode(12), call.now, world.options)
    with pytest.raises(SecondFactorError):
        async with (
            factor_attempts(world.store, call, world.options),
            world.store.transaction() as tx,
        ):
            await check_second_factor(
                tx, call.owner_id, FactorCode("000000"), call.now, world.options
            )
    assert "USER_SECOND_FACTOR_FAILED" in await world.audit_types()
    async with world.store.transaction() as tx:
        code = FactorCode(_code(world, secret))
        level = await check_second_factor(tx, call.owner_id, code, world.clock(), world.options)
    assert level == AssuranceLevel.SUBSTANTIAL
