"""Channel registry use cases: admins connect numbers; inbound traffic is routed by number."""
from __future__ import annotations

import uuid

from google.cloud import firestore

from utalk.auth.tokens import Principal
from utalk.channels import credentials
from utalk.models.channels import Channel, CreateChannel
from utalk.repositories.channels import ChannelRepository


def create_channel(admin: Principal, body: CreateChannel) -> Channel:
    provider = body.provider or credentials.default_provider()
    account_sid = body.accountSid or (credentials.default_account_sid() if provider == "twilio" else None)
    channel = {"id": f"ch_{uuid.uuid4()}", "workspaceId": admin.workspace_id, "type": body.type,
               "name": body.name, "address": body.phoneNumber, "provider": provider, "accountSid": account_sid,
               "authTokenRef": body.authTokenRef, "status": "active", "createdAt": firestore.SERVER_TIMESTAMP}
    # The route carries what an inbound webhook needs before it knows the workspace: where to go and
    # which secret verifies the signature. Copied here so inbound spends exactly one read.
    route = {"workspaceId": admin.workspace_id, "channelId": channel["id"], "type": body.type,
             "address": body.phoneNumber, "provider": provider, "accountSid": account_sid,
             "authTokenRef": body.authTokenRef}
    repo = ChannelRepository(admin.workspace_id)
    repo.create(channel, route)
    return Channel.model_validate(repo.get(channel["id"]))


def list_channels(workspace_id: str) -> list[Channel]:
    return [Channel.model_validate(c) for c in ChannelRepository(workspace_id).list()]
