"""Feature flags of the caller's workspace (admin): how each evaluates here, and its own override.

Definitions (rollout percent, kill switch, tenant overrides) are the platform operators' alone
(scripts/ops flag-set); no route here can change them (docs/feature-flags.md).
"""
from utalk import http
from utalk.models.common import Page
from utalk.models.flags import SetOverride, WorkspaceFlag
from utalk.services import flags


@http.endpoint("flags_list", role="admin", response=Page[WorkspaceFlag])
def list_flags(call: http.Call):
    """Every feature flag as it evaluates for this workspace now."""
    return {"items": [f.model_dump(mode="json") for f in flags.list_for_workspace(call.principal)],
            "nextCursor": None}


# 404: no such flag; 409: the flag is not overridable by workspaces
@http.endpoint("flags_set_override", role="admin", body=SetOverride, response=WorkspaceFlag, raises=(404, 409))
def set_override(call: http.Call):
    """Turn a flag on or off for this workspace, whatever its rollout says (the kill switch still wins)."""
    return flags.set_override(call.principal, call.params["flagKey"], call.body.enabled, call.request_id)


@http.endpoint("flags_clear_override", role="admin", response=WorkspaceFlag, raises=(404,))
def clear_override(call: http.Call):
    """Drop this workspace's override: the flag follows the platform's rollout again."""
    return flags.set_override(call.principal, call.params["flagKey"], None, call.request_id)
