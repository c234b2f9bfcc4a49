"""The owner's second factor as the approval and draft use cases see it: the roles of the store
that checking it touches (:class:`FactorTx`), the fields of an owner's answer that carry it
(:class:`FactorProof`, :class:`Denial`), and the checks of :mod:`openleash.service.owner_auth`
they go through.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime

from openleash.domain.models import AssuranceLevel
from openleash.service import owner_auth
from openleash.service.bodies import optional_text
from openleash.service.options import Options
from openleash.service.owner_auth import FactorCode, FactorTx, OwnerCall
from openleash.service.ports import Units

__all__ = [
    "Denial",
    "FactorProof",
    "FactorTx",
    "factor_attempts",
    "passphrase_confirmed",
    "second_factor",
]


@dataclass(frozen=True, slots=True)
class FactorProof:
    """The second-factor fields of an owner's answer as sent. ``totp_code`` and ``passphrase``
    are checked (a value that is not a string refused) by the check that reads them, when it
    reads them: an unknown request is still NOT_FOUND whatever they hold."""

    totp_code: object = field(default=None, repr=False)
    passphrase: object = field(default=None, repr=False)

    @classmethod
    def from_body(cls, body: object) -> FactorProof:
        fields = body if isinstance(body, dict) else {}
        return cls(fields.get("totp_code"), fields.get("passphrase"))


@dataclass(frozen=True, slots=True)
class Denial:
    """An owner's refusal: the second factor, and the reason shown to the agent (if any)."""

    proof: FactorProof
    reason: str | None = None

    @classmethod
    def from_body(cls, body: object) -> Denial:
        reason = optional_text(body, "reason") if isinstance(body, dict) else None
        return cls(FactorProof.from_body(body), reason)


def factor_attempts(
    store: Units[FactorTx], call: OwnerCall, options: Options
) -> AbstractAsyncContextManager[None]:
    """:func:`owner_auth.factor_attempts`: a wrong factor inside counts against the owner."""
    return owner_auth.factor_attempts(store, call, options)


async def passphrase_confirmed(store: Units[FactorTx], call: OwnerCall, proof: FactorProof) -> bool:
    """:func:`owner_auth.passphrase_confirmed`: whether the passphrase was given, and right."""
    return await owner_auth.passphrase_confirmed(store, call, proof.passphrase)


async def second_factor(
    tx: FactorTx,
    owner_id: str,
    proof: FactorProof,
    now: datetime,
    options: Options,
    *,
    required_level: str | None = None,
    passphrase_ok: bool = False,
) -> AssuranceLevel:
    """:func:`owner_auth.check_second_factor` of the proof's ``totp_code`` in the unit of work
    ``tx``: the assurance achieved."""
    return await owner_auth.check_second_factor(
        tx,
        owner_id,
        FactorCode(proof.totp_code),
        now,
        options,
        required_level=required_level,
        passphrase_ok=passphrase_ok,
    )
