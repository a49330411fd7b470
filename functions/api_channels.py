"""Channel registry endpoints (admin): connect a number the workspace's own provider account
holds, list and read channels, rotate their write-only credentials, deactivate and delete them."""
import flask

from utalk import http
from utalk.models.channels import Channel, CreateChannel, UpdateChannel, UpdateCredentials
from utalk.models.common import Page
from utalk.services import channels


@http.endpoint("channels_create", role="admin", body=CreateChannel, response={201: Channel}, raises=(409,))
def create(call: http.Call):
    return channels.create_channel(call.principal, call.body), 201


@http.endpoint("channels_list", role="admin", response=Page[Channel])
def list_channels(call: http.Call):
    return {"items": [c.model_dump(mode="json") for c in channels.list_channels(call.workspace_id)]}


@http.endpoint("channels_get", role="admin", response=Channel, raises=(404,))
def get(call: http.Call):
    return channels.get_channel(call.workspace_id, call.params["channelId"])


@http.endpoint("channels_update", role="admin", body=UpdateChannel, response=Channel, raises=(404, 409))
def update(call: http.Call):
    return channels.update_channel(call.principal, call.params["channelId"], call.body)


@http.endpoint("channels_set_credentials", role="admin", body=UpdateCredentials, response=Channel,
               raises=(404, 409))
def set_credentials(call: http.Call):
    return channels.set_credentials(call.principal, call.params["channelId"], call.body)


@http.endpoint("channels_delete", role="admin", response={204: None}, raises=(404, 409))
def delete(call: http.Call):
    channels.delete_channel(call.principal, call.params["channelId"])
    return flask.Response(status=204)
