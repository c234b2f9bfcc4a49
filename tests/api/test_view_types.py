"""Each view's TypedDict names the keys of the wire model that documents its route: the same
keys, required where the model requires them (an omittable field is a ``NotRequired`` key)."""

from __future__ import annotations

from typing import Any, NotRequired, get_origin, get_type_hints

import pytest
from pydantic import BaseModel

from openleash.api.views import accounts, agents, approvals, audit, drafts, keys, policies
from openleash.api.wire import admin, agent, owner, owner_agents, owner_approvals, public
from openleash.api.wire import owner_policies as owner_policy

PAIRS: list[tuple[Any, type[BaseModel]]] = [
    (accounts.UserCreatedJson, admin.UserCreated),
    (accounts.UserJson, admin.User),
    (accounts.UserListJson, admin.UserList),
    (accounts.SetupInviteJson, admin.SetupInvite),
    (accounts.SetupDoneJson, owner.OwnerSetupResult),
    (accounts.SignedInJson, owner.OwnerLoginResult),
    (accounts.LoggedOutJson, owner.OwnerLogoutResult),
    (accounts.TotpDisabledJson, owner.TotpDisabled),
    (accounts.ProfileJson, owner.OwnerProfile),
    (accounts.TotpEnrolmentJson, owner.TotpEnrolment),
    (accounts.TotpEnabledJson, owner.TotpEnabled),
    (agents.ChallengeJson, public.RegistrationChallenge),
    (agents.EnrolledJson, public.AgentRegistration),
    (agents.EnrolledWithInviteJson, public.InviteRegistration),
    (agents.SigningHelpJson, public.SigningHelp),
    (agents.RequestSigningJson, public.RequestSigningHelp),
    (agents.ReferenceJson, public.ReferenceLinks),
    (agents.SdkJson, public.Sdk),
    (agents.AgentInviteJson, admin.AgentInvite),
    (agents.AgentRecordJson, admin.AgentRecord),
    (agents.AgentListJson, admin.AgentList),
    (agents.AgentStatusJson, owner_agents.OwnerAgentStatusResult),
    (agents.AgentRevokedJson, admin.AgentRevoked),
    (agents.InviteRegistrationJson, public.InviteRegistrationHelp),
    (agents.AuthorizationFlowJson, public.AuthorizationFlow),
    (agents.InviteInstructionsJson, public.InviteInstructions),
    (approvals.ApprovalCreatedJson, agent.ApprovalRequestCreated),
    (approvals.AgentApprovalJson, agent.AgentApprovalRequest),
    (approvals.OwnerApprovalJson, owner_approvals.OwnerApprovalRequest),
    (approvals.OwnerApprovalListJson, owner_approvals.OwnerApprovalRequestList),
    (approvals.ApprovedJson, owner_approvals.OwnerApprovalApproved),
    (approvals.DeniedJson, owner_approvals.OwnerApprovalDenied),
    (drafts.DraftSummaryJson, agent.PolicyDraftSummary),
    (drafts.AgentDraftJson, agent.AgentPolicyDraft),
    (drafts.OwnerDraftJson, owner_policy.OwnerPolicyDraft),
    (drafts.OwnerDraftListJson, owner_policy.OwnerPolicyDraftList),
    (drafts.AgentDraftListJson, agent.PolicyDraftList),
    (drafts.DraftCreatedJson, agent.PolicyDraftCreated),
    (drafts.DraftApprovedJson, owner_policy.OwnerDraftApproved),
    (drafts.DraftDeniedJson, owner_policy.OwnerDraftDenied),
    (keys.ServerKeyJson, admin.ServerKey),
    (keys.KeyListJson, admin.ServerKeyList),
    (keys.KeyRevokedJson, admin.KeyRevoked),
    (audit.AuditEventJson, admin.AuditEvent),
    (audit.AuditPageJson, admin.AuditPage),
    (policies.StoredPolicyJson, admin.StoredPolicy),
    (policies.OwnedPolicyJson, owner_policy.OwnerPolicy),
    (policies.PolicyListJson, admin.PolicyList),
    (policies.OwnedPolicyListJson, owner_policy.OwnerPolicyList),
    (policies.OwnedCreatedJson, owner_policy.OwnerPolicyCreated),
    (policies.PolicyChangedJson, owner_policy.OwnerPolicyUpdated),
    (policies.PolicyChangedJson, owner_policy.OwnerPolicyDeleted),
    (policies.ReorderedJson, owner_policy.OwnerPoliciesReordered),
]


@pytest.mark.parametrize(
    ("view", "model"), PAIRS, ids=[f"{v.__name__}-{m.__name__}" for v, m in PAIRS]
)
def test_a_view_has_the_keys_of_its_wire_model(view: Any, model: type[BaseModel]) -> None:
    fields = {(field.alias or name): field for name, field in model.model_fields.items()}
    # Read from the hints: with postponed annotations, __required_keys__ cannot see NotRequired.
    # JsonObject is a string alias (``JsonObject | None`` cannot be evaluated): a dict here.
    hints = get_type_hints(view, localns={"JsonObject": dict}, include_extras=True)
    assert set(hints) == set(fields)
    required = {name for name, hint in hints.items() if get_origin(hint) is not NotRequired}
    assert required == {name for name, field in fields.items() if field.is_required()}
