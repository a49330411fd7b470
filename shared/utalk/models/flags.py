"""Feature flags on the wire: what a workspace admin reads and sets (docs/feature-flags.md)."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from utalk.models.common import Input, Output, Timestamp

# flagKey path segments and definition keys: short, lower-case, dotted ("analytics.csv_bom").
KEY_PATTERN = r"^[a-z][a-z0-9_.-]{0,62}$"

# Why a flag is on or off for a workspace, in the order evaluation asks (utalk/flags.py).
Reason = Literal["killed", "workspace_override", "tenant_override", "rollout"]


class WorkspaceFlag(Output):
    """One flag as it evaluates for the caller's workspace (the rollout percent is the platform's)."""
    key: str
    description: str = ""
    enabled: bool                              # what the gated feature does for this workspace now
    reason: Reason
    overridable: bool                          # the workspace's admins may turn it on or off
    override: bool | None = None               # the workspace's own choice (null: follows the rollout)
    overrideUpdatedAt: Timestamp | None = None


class SetOverride(Input):
    # strict: "yes" or 1 is not a yes (pydantic's lax mode would read them as true)
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"enabled": True}]})
    enabled: bool = Field(description="On or off for this workspace, whatever the rollout says "
                                      "(the platform's kill switch still wins)")
