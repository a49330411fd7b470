"""Feature flag use cases: a workspace admin's view and override, and the platform operator's
definitions and usage report (scripts/ops flag-*). Evaluation itself is utalk/flags.py."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from utalk import errors, flags
from utalk.auth.tokens import Principal
from utalk.models.flags import KEY_PATTERN, WorkspaceFlag
from utalk.repositories import audit
from utalk.repositories import flags as repo
from utalk.repositories.base import WorkspaceScope

ACTION = "flag.override"
_KEY = re.compile(KEY_PATTERN)


def _shown(key: str, definition: dict, principal: Principal, override: dict | None) -> WorkspaceFlag:
    result = flags.evaluate(definition, principal.workspace_id, principal.tenant_id, override)
    return WorkspaceFlag(key=key, description=definition.get("description") or "", enabled=result.enabled,
                         reason=result.reason, overridable=bool(definition.get("overridable")),
                         override=None if override is None else bool(override.get("enabled")),
                         overrideUpdatedAt=(override or {}).get("updatedAt"))


def list_for_workspace(principal: Principal) -> list[WorkspaceFlag]:
    """Every flag as it evaluates for the admin's workspace now (read fresh, not from the cache)."""
    stored = repo.overrides(principal.workspace_id)
    return [_shown(key, d, principal, stored.get(key)) for key, d in sorted(repo.definitions().items())]


def _definition(key: str) -> dict:
    found = repo.definition(key) if _KEY.match(key) else None
    if found is None:
        raise errors.NotFound("No such feature flag", code="flag_not_found")
    return found


def set_override(principal: Principal, key: str, enabled: bool | None, request_id: str | None = None) -> WorkspaceFlag:
    """The workspace's own on/off for `key` (None: follow the rollout again); audited. Setting what
    is already set writes nothing, so a retried request is harmless."""
    definition = _definition(key)
    if not definition.get("overridable") and enabled is not None:
        raise errors.Conflict("This flag is rolled out by the platform; workspaces cannot override it",
                              code="flag_not_overridable")
    scope = WorkspaceScope(principal.workspace_id)
    before = repo.overrides(principal.workspace_id).get(key)
    was = None if before is None else bool(before.get("enabled"))
    if was != enabled:
        entry = audit.entry(audit.new_id(), principal.workspace_id, ACTION, principal,
                            [{"path": key, "before": was, "after": enabled}], request_id)
        repo.set_override(scope, key, enabled, entry)
        flags.forget()   # this instance answers with the new state at once; the others within the TTL
    return _shown(key, definition, principal, repo.overrides(principal.workspace_id).get(key))


# -- platform operators (scripts/ops), never a workspace's API ------------------------------------
def define(key: str, *, description: str | None = None, percent: int | None = None, enabled: bool | None = None,
           overridable: bool | None = None, tenant: str | None = None, tenant_state: bool | None = None,
           clear_tenant: bool = False, operator: str = "") -> dict:
    """Create or change a definition; returns what changed (for the operator's log line)."""
    if not _KEY.match(key):
        raise ValueError(f"flag key must match {KEY_PATTERN}")
    if percent is not None and not 0 <= percent <= 100:
        raise ValueError("percent must be 0..100")
    existing = repo.definition(key)
    fields: dict = {"updatedBy": operator}
    if existing is None:   # a new flag starts dark: off everywhere until a percent is given
        fields.update(description="", percent=0, enabled=True, overridable=False, tenants={})
    for name, value in (("description", description), ("percent", percent), ("enabled", enabled),
                        ("overridable", overridable)):
        if value is not None:
            fields[name] = value
    if tenant:
        tenants = dict((existing or {}).get("tenants") or {})
        if clear_tenant:
            tenants.pop(tenant, None)
        elif tenant_state is not None:
            tenants[tenant] = tenant_state
        fields["tenants"] = tenants   # the whole map, so a cleared tenant is gone
    stored = repo.save_definition(key, fields)
    return {"flag": key, **{k: stored.get(k) for k in ("percent", "enabled", "overridable", "tenants")}}


def usage(key: str, days: int = 7) -> dict:
    """Evaluations on/off and uses per UTC day, the last `days` days (as flushed by the instances)."""
    _definition(key)
    since = (datetime.now(timezone.utc).date() - timedelta(days=days - 1)).isoformat()
    return {"flag": key, "days": repo.usage(key, since)}
