"""Workspace settings (admin): the whole document, and changes as JSON merge patches, each audited.

A PATCH merges what is sent into what is stored (RFC 7386: objects merge key by key, lists and
values replace, null puts a key back to its default), validates the result as a whole, and in one
transaction stores it with an audit record of every changed path (before/after, effective values).
After the commit, `workspace:updated` names the changed paths. A PATCH that changes nothing writes
and announces nothing (so a retried request is harmless).
"""
from __future__ import annotations

import copy

from pydantic import ValidationError

from utalk import errors, events, pubsub
from utalk.auth.tokens import Principal
from utalk.models.settings import WorkspaceSettings, WorkspaceUpdated, effective, readable
from utalk.repositories import audit
from utalk.repositories.workspaces import change_settings, workspace_settings

ACTION = "settings.updated"


def get_settings(workspace_id: str) -> dict:
    return workspace_settings(workspace_id)


def merge_patch(target: dict, patch: dict) -> dict:
    """RFC 7386 JSON merge patch of `patch` onto a copy of `target`."""
    out = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = merge_patch(out[key] if isinstance(out.get(key), dict) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def changes(before: dict, after: dict, prefix: str = "") -> list[dict]:
    """Every leaf that differs, as {path, before, after}; objects are walked, lists are leaves."""
    found = []
    for key in sorted(set(before) | set(after), key=lambda k: (k not in before, str(k))):
        path, old, new = f"{prefix}{key}", before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found += changes(old, new, path + ".")
        elif old != new:
            found.append({"path": path, "before": old, "after": new})
    return found


def update_settings(principal: Principal, patch: dict, request_id: str | None = None) -> dict:
    """Apply a merge patch (already checked key by key by `SettingsPatch`); returns the new settings."""
    ws = principal.workspace_id
    audit_id = audit.new_id()
    result: dict = {}

    def decide(stored: dict):
        base = readable(stored)
        try:
            model = WorkspaceSettings.model_validate(merge_patch(base, patch))
        except ValidationError as exc:  # what only the merged whole can violate (e.g. too many map keys)
            raise errors.ValidationFailed("Settings are invalid", details={"fields": errors.field_errors(exc)}) \
                from None
        before, after = effective(base), model.stored()
        diff = changes(before, after)
        result.update(settings=after, diff=diff)
        if not diff:
            return stored, None
        return model.model_dump(mode="json", exclude_unset=True), \
            audit.entry(audit_id, ws, ACTION, principal, diff, request_id)

    _, record = change_settings(ws, decide)
    if record is not None:
        pubsub.wait([events.publish("workspace:updated", ws, WorkspaceUpdated(
            workspaceId=ws, paths=[c["path"] for c in result["diff"]], auditId=audit_id, by=principal.user_id))])
    return result["settings"]
