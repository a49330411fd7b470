"""Workspace settings (admin): read them whole, change them with a JSON merge patch."""
from utalk import http
from utalk.models.settings import SettingsPatch
from utalk.services import settings


@http.endpoint("workspace_settings_get", role="admin")
def get_settings(call: http.Call):
    return settings.get_settings(call.workspace_id)


@http.endpoint("workspace_settings_update", role="admin", body=SettingsPatch)
def update_settings(call: http.Call):
    patch = call.body.model_dump(mode="json", exclude_unset=True)
    return settings.update_settings(call.principal, patch, call.request_id)
