"""Workspace settings (admin): read them whole, change them with a JSON merge patch."""
from utalk import http
from utalk.models.settings import SettingsPatch, WorkspaceSettings
from utalk.services import settings


@http.endpoint("workspace_settings_get", role="admin", response=WorkspaceSettings)
def get_settings(call: http.Call):
    return settings.get_settings(call.workspace_id)


# 409: another admin's PATCH committed first (the transaction, contended, is answered concurrent_update)
@http.endpoint("workspace_settings_update", role="admin", body=SettingsPatch, response=WorkspaceSettings,
               raises=(409,))
def update_settings(call: http.Call):
    patch = call.body.model_dump(mode="json", exclude_unset=True)
    return settings.update_settings(call.principal, patch, call.request_id)
