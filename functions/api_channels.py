"""Channel registry endpoints (admin): connect a WhatsApp number, list the workspace's channels."""
from utalk import http
from utalk.models.channels import CreateChannel
from utalk.services import channels


@http.endpoint("channels_create", role="admin", body=CreateChannel)
def create(call: http.Call):
    return channels.create_channel(call.principal, call.body), 201


@http.endpoint("channels_list", role="admin")
def list_channels(call: http.Call):
    return {"items": [c.model_dump(mode="json") for c in channels.list_channels(call.workspace_id)]}
