"""Channel registry use cases: admins connect numbers and Pages their own provider account proves
it holds, rotate their credentials, deactivate and delete them; a platform operator transfers a route.

Inbound traffic is routed by address through `channelRoutes` (copied there: what a webhook needs
before it knows the workspace); a Messenger channel's route also names the key its verify token
is found by (`verifyKey`), for the subscription handshake. Webhook instances cache routes and
credentials for up to UTALK_ROUTE_CACHE_SECONDS (channels/routes.py), so every change here takes
effect everywhere within that time.
"""
from __future__ import annotations

import secrets
import uuid

from google.cloud import firestore

from utalk import errors
from utalk.auth.tokens import Principal
from utalk.channels import adapter_for, credentials, sealing
from utalk.channels.credentials import Credentials
from utalk.models.channels import (CREDENTIAL_FIELDS, OPTIONAL_FIELDS, Channel, ChannelCredentials, CreateChannel,
                                   UpdateChannel, UpdateCredentials, WidgetTexts)
from utalk.repositories.base import WorkspaceScope, read
from utalk.repositories.channels import ChannelRepository, read_route

ROUTE_FIELDS = ("type", "address", "provider", "accountSid")
WEB_ROUTE_FIELDS = ("allowedOrigins", "widget")   # what a visitor's request needs before the workspace


def web_key() -> str:
    """A web channel's public key (its address): 128 random bits, made here, never chosen by a client."""
    return f"wk_{secrets.token_hex(16)}"


def _route(channel: dict, values: dict[str, str]) -> dict:
    route = {"workspaceId": channel["workspaceId"], "channelId": channel["id"],
             **{k: channel.get(k) for k in ROUTE_FIELDS}}
    if channel.get("appId"):           # a Page's app: webhooks tell our own echoes by it
        route["appId"] = channel["appId"]
    if values.get("verifyToken"):
        route["verifyKey"] = credentials.verify_key(values["verifyToken"])
    if channel.get("type") == "web":
        route.update({k: channel.get(k) for k in WEB_ROUTE_FIELDS})
    return route


def _submitted(channel_type: str, provider: str, given: ChannelCredentials | None,
               current: dict | None = None) -> dict[str, str]:
    """The full set of the provider's credentials: what was submitted over what the channel has;
    a sandbox channel defaults to the local sandbox credentials."""
    fields = CREDENTIAL_FIELDS[(channel_type, provider)]
    submitted = given.values() if given else {}
    unexpected = sorted(set(submitted) - set(fields))
    if unexpected:
        raise errors.ValidationFailed(f"This channel's credentials are {', '.join(fields)}",
                                      code="unexpected_credentials", details={"fields": unexpected})
    values = {**(current or {}), **submitted}
    if provider == "sandbox":
        values = {**credentials.SANDBOX_BY_TYPE[channel_type], **values}
    missing = [name for name in fields if not values.get(name) and name not in OPTIONAL_FIELDS]
    if missing:
        raise errors.ValidationFailed("Credentials are missing", code="credentials_required",
                                      details={"fields": missing})
    return values


def _found(repo: ChannelRepository, channel_id: str) -> dict:
    channel = repo.get(channel_id)
    if channel is None:
        raise errors.NotFound("No such channel", code="channel_not_found")
    return channel


def _shown(repo: ChannelRepository, channel_id: str) -> Channel:
    return Channel.model_validate(_found(repo, channel_id))


def create_channel(admin: Principal, body: CreateChannel) -> Channel:
    provider = body.provider or credentials.default_provider(body.type)
    credentials.check_provider(provider)
    values = _submitted(body.type, provider, body.credentials)
    channel = {"id": f"ch_{uuid.uuid4()}", "workspaceId": admin.workspace_id, "type": body.type,
               "name": body.name, "address": body.address, "provider": provider,
               "accountSid": body.accountSid, "status": "active", "credentials": credentials.state(values),
               "createdAt": firestore.SERVER_TIMESTAMP, "updatedAt": firestore.SERVER_TIMESTAMP}
    if body.type == "facebook":
        channel.update(pageId=body.pageId, appId=body.appId or credentials.SANDBOX_APP_ID)
    if body.type == "web":
        key = web_key()
        channel.update(address=key, channelKey=key, allowedOrigins=body.allowedOrigins,
                       widget=(body.widget or WidgetTexts()).model_dump())
    # Proven before anything is stored: the workspace's own account must hold the number or Page.
    adapter_for(channel, Credentials(values)).prove_address(channel["address"])
    repo = ChannelRepository(admin.workspace_id)
    repo.create(channel, _route(channel, values), credentials.sealed(admin.workspace_id, channel["id"], values))
    return _shown(repo, channel["id"])


def get_channel(workspace_id: str, channel_id: str) -> Channel:
    return _shown(ChannelRepository(workspace_id), channel_id)


def list_channels(workspace_id: str) -> list[Channel]:
    return [Channel.model_validate(c) for c in ChannelRepository(workspace_id).list()]


def _opened(repo: ChannelRepository, channel_id: str) -> tuple[dict, dict[str, str]]:
    channel, record = repo.get_with_secrets(channel_id)
    if channel is None:
        raise errors.NotFound("No such channel", code="channel_not_found")
    opened = credentials.opened(repo.scope.workspace_id, channel_id, channel.get("provider"), record)
    return channel, dict(opened or {})


def set_credentials(admin: Principal, channel_id: str, body: UpdateCredentials) -> Channel:
    """Rotate: the new secrets (and account) must prove the number again, then replace the old."""
    repo = ChannelRepository(admin.workspace_id)
    channel, current = _opened(repo, channel_id)
    if channel.get("disabledReason") == "transferred":
        raise errors.Conflict("This channel's number was transferred to another workspace",
                              code="channel_transferred")
    channel_type = channel.get("type") or "whatsapp"
    if body.accountSid and channel_type != "whatsapp":
        raise errors.ValidationFailed("accountSid is for WhatsApp channels", code="unexpected_credentials",
                                      details={"fields": ["accountSid"]})
    values = _submitted(channel_type, channel["provider"], body, current)
    account = body.accountSid or channel.get("accountSid")
    changed = {**channel, "accountSid": account}
    adapter_for(changed, Credentials(values)).prove_address(channel["address"])
    route_fields = {k: v for k, v in _route(changed, values).items() if k in ("accountSid", "verifyKey")}
    repo.set_credentials(changed, credentials.sealed(admin.workspace_id, channel_id, values),
                         {"accountSid": account, "updatedAt": firestore.SERVER_TIMESTAMP,
                          **{f"credentials.{k}": v for k, v in credentials.state(body.values()).items()}},
                         route_fields)
    if channel_type == "web" and "identitySecret" in body.values():
        from utalk.services.visitor_revocation import revoke_identified

        revoke_identified(admin.workspace_id, channel_id)   # what the old secret vouched for ends
    return _shown(repo, channel_id)


def update_channel(admin: Principal, channel_id: str, body: UpdateChannel) -> Channel:
    repo = ChannelRepository(admin.workspace_id)
    channel = _found(repo, channel_id)
    fields = {"updatedAt": firestore.SERVER_TIMESTAMP, **({"name": body.name} if body.name else {})}
    web = {k: v for k, v in (("allowedOrigins", body.allowedOrigins),
                             ("widget", body.widget.model_dump() if body.widget else None)) if v is not None}
    if web:
        if channel.get("type") != "web":
            raise errors.ValidationFailed("allowedOrigins and widget are for web channels", code="not_a_web_channel")
        # The route carries them to the visitor API (cached there up to UTALK_ROUTE_CACHE_SECONDS).
        repo.update_with_route(channel, {**fields, **web}, web)
        channel, fields = {**channel, **web}, {"updatedAt": firestore.SERVER_TIMESTAMP}
    if body.status == "disabled" and channel.get("status") != "disabled":
        repo.release_route(channel, {**fields, "status": "disabled", "disabledReason": "deactivated"})
    elif body.status == "active" and channel.get("status") != "active":
        if channel.get("disabledReason") == "transferred":
            raise errors.Conflict("This channel's number was transferred to another workspace",
                                  code="channel_transferred")
        channel, values = _opened(repo, channel_id)
        values = _submitted(channel.get("type") or "whatsapp", channel["provider"], None, values)
        adapter_for(channel, Credentials(values)).prove_address(channel["address"])
        repo.claim_route(channel, _route(channel, values), {**fields, "status": "active", "disabledReason": None})
    elif len(fields) > 1:
        repo.update(channel_id, fields)
    return _shown(repo, channel_id)


def delete_channel(admin: Principal, channel_id: str) -> None:
    """The channel, its credentials and its route go; its conversations stay as they are."""
    if not ChannelRepository(admin.workspace_id).delete(channel_id):
        raise errors.NotFound("No such channel", code="channel_not_found")


def transfer_route(key: str, to_workspace: str) -> dict:
    """Operator action: route `key` (e.g. `whatsapp:+14155238886`, `facebook:<pageId>`) to `to_workspace`.

    The channel moves whole: a new channel in the target workspace with the same address, account
    and credentials (opened here and sealed again for the new workspace and channel: the provider
    signs this number's webhooks with the token of the account that holds it, so the token must
    travel with it until the target's admin rotates to its own account). The source channel stays
    `disabled` (`disabledReason: transferred`) without credentials; its conversations stay."""
    route = read_route(key)
    if route is None:
        raise errors.NotFound(f"No route {key}", code="route_not_found")
    source_ws, source_id = route["workspaceId"], route["channelId"]
    if source_ws == to_workspace:
        raise errors.Conflict("The route already belongs to that workspace", code="same_workspace")
    target = ChannelRepository(to_workspace)
    if read(WorkspaceScope(to_workspace).root) is None:
        raise errors.NotFound(f"No workspace {to_workspace}", code="workspace_not_found")

    def build(channel: dict, record: dict):
        values = sealing.unseal(source_ws, source_id, record)
        moved = {**channel, "id": f"ch_{uuid.uuid4()}", "workspaceId": to_workspace, "status": "active",
                 "disabledReason": None, "createdAt": firestore.SERVER_TIMESTAMP,
                 "updatedAt": firestore.SERVER_TIMESTAMP}
        left = {"status": "disabled", "disabledReason": "transferred", "updatedAt": firestore.SERVER_TIMESTAMP,
                "credentials": {name: {"set": False, "rotatedAt": None} for name in values}}
        return moved, credentials.sealed(to_workspace, moved["id"], values), left

    moved = ChannelRepository(source_ws).move(source_id, target, build)
    return {"route": key, "fromWorkspace": source_ws, "fromChannel": source_id, "toWorkspace": to_workspace,
            "toChannel": moved["id"]}


def rewrap_credentials(dry_run: bool = False) -> dict:
    """Operator action after rotating the platform key: wrap every record's data key with the
    current key (the fields are not re-encrypted). A record rotated meanwhile is left as the
    rotation wrote it (already under the current key). Returns counts."""
    from google.api_core.exceptions import FailedPrecondition

    from utalk import clients

    db = clients.firestore()
    counts = {"rewrapped": 0, "current": 0, "failed": 0, "changed": 0}
    for snap in db.collection_group("channelSecrets").stream():
        ws = snap.reference.parent.parent.id
        try:
            record = sealing.rewrap(ws, snap.id, snap.to_dict())
        except sealing.Unsealable:
            counts["failed"] += 1
            continue
        if record is None:
            counts["current"] += 1
            continue
        if not dry_run:
            try:
                snap.reference.update({"kid": record["kid"], "dataKey": record["dataKey"],
                                       "updatedAt": firestore.SERVER_TIMESTAMP},
                                      option=db.write_option(last_update_time=snap.update_time))
            except FailedPrecondition:
                counts["changed"] += 1
                continue
        counts["rewrapped"] += 1
    return counts
