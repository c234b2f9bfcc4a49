"""What the ledger keeps of an allowed action, for the limits of later decisions to count.

Reading the ledger for a decision is :mod:`openleash.service.decision_context`; the action is
recorded in the same transaction as the decision that allowed it, so that no number of
concurrent requests can overrun a limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from openleash.domain.models import AllowedAction
from openleash.domain.timefmt import epoch_ms
from openleash.policy import usage_record


def allowed_action(
    decision_id: str,
    owner_id: str,
    agent_principal_id: str,
    action: Mapping[str, object],
    now: datetime,
) -> AllowedAction:
    record = usage_record(action)
    return AllowedAction(
        decision_id=decision_id,
        owner_id=owner_id,
        agent_principal_id=agent_principal_id,
        action_type=str(record.action_type or action.get("action_type", "")),
        currency=record.currency,
        counterparty=record.counterparty,
        amount_minor=record.amount_minor,
        at_ms=epoch_ms(now),
    )
