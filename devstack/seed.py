"""Seeds the demo tenant, workspace, admin user, WhatsApp channel, Messenger Page and web chat
(idempotent: existing ones are kept; the web chat's allowed origins are the local gateway's, where
the demo shop page is served).

Credentials come from UTALK_DEMO_ADMIN_EMAIL / UTALK_DEMO_ADMIN_PASSWORD, with local defaults. The
channels use the offline sandbox provider (and its local sandbox credentials) unless the developer
sets a provider's own: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (and UTALK_DEMO_NUMBER, a WhatsApp
sender of that account); MESSENGER_APP_ID, MESSENGER_PAGE_TOKEN, MESSENGER_APP_SECRET and
MESSENGER_VERIFY_TOKEN (and UTALK_DEMO_PAGE_ID, a Page of that app). Then the seed submits them as
the demo channel's credentials, as an admin would, and the provider must prove the number or Page.
"""
from __future__ import annotations

import os

from google.cloud import firestore

from utalk import clients, errors
from utalk.auth.tokens import Principal
from utalk.models.settings import defaults

TENANT, WORKSPACE = "tenant_demo", "ws_demo"
DEMO_NUMBER = os.environ.get("UTALK_DEMO_NUMBER", "+14155238886")  # default: Twilio's WhatsApp sandbox number
DEMO_PAGE_ID = os.environ.get("UTALK_DEMO_PAGE_ID", "100000000000001")  # the sandbox's Facebook Page
# A new workspace starts with the settings model's defaults (utalk/models/settings.py: the one source).
DEFAULT_SETTINGS = defaults()


def create_workspace(workspace_id: str, tenant_id: str, name: str) -> None:
    db = clients.firestore()
    db.collection("tenants").document(tenant_id).set({"id": tenant_id, "name": name}, merge=True)
    ws = db.collection("workspaces").document(workspace_id)
    if not ws.get().exists:
        ws.set({"id": workspace_id, "tenantId": tenant_id, "name": name, "settings": DEFAULT_SETTINGS,
                "createdAt": firestore.SERVER_TIMESTAMP})


def _acting_admin(user_id: str, workspace_id: str, tenant_id: str) -> Principal:
    """The seed acts through the same use cases as the API, as an admin of the workspace."""
    return Principal(user_id, "admin", workspace_id, tenant_id, expires_at=0)


def create_admin(workspace_id: str, tenant_id: str, email: str, password: str, name: str = "Admin") -> str:
    """Create an admin through the users use case (the API needs an admin to exist first), or find
    the existing one with that email. Returns the user id."""
    from utalk.models.users import CreateUser
    from utalk.services.users import create_user

    body = CreateUser(email=email, password=password, name=name, role="admin")
    try:
        return create_user(_acting_admin("seed", workspace_id, tenant_id), body).id
    except errors.Conflict:
        return clients.firestore().collection("userEmails").document(body.email).get().get("userId")


def create_demo_channel(admin_id: str) -> dict:
    """The demo workspace's WhatsApp number, made through the same use case the API uses."""
    from utalk.models.channels import CreateChannel
    from utalk.services.channels import create_channel, list_channels

    existing = [c for c in list_channels(WORKSPACE) if c.address == DEMO_NUMBER]
    if existing:
        return existing[0].model_dump(mode="json")
    live = {"provider": "twilio", "accountSid": os.environ["TWILIO_ACCOUNT_SID"],
            "credentials": {"authToken": os.environ["TWILIO_AUTH_TOKEN"]}} \
        if os.environ.get("TWILIO_ACCOUNT_SID") and os.environ.get("TWILIO_AUTH_TOKEN") else {}
    body = CreateChannel(name="WhatsApp demo", phoneNumber=DEMO_NUMBER, **live)
    return create_channel(_acting_admin(admin_id, WORKSPACE, TENANT), body).model_dump(mode="json")


def create_demo_page(admin_id: str) -> dict:
    """The demo workspace's Facebook Page (Messenger), made through the same use case the API uses."""
    from utalk.models.channels import CreateChannel
    from utalk.services.channels import create_channel, list_channels

    existing = [c for c in list_channels(WORKSPACE) if c.type == "facebook" and c.address == DEMO_PAGE_ID]
    if existing:
        return existing[0].model_dump(mode="json")
    names = ("pageToken", "appSecret", "verifyToken")
    values = {name: os.environ.get(f"MESSENGER_{env}") for name, env in zip(names, ("PAGE_TOKEN", "APP_SECRET",
                                                                                    "VERIFY_TOKEN"))}
    live = {"provider": "messenger", "appId": os.environ["MESSENGER_APP_ID"], "credentials": values} \
        if os.environ.get("MESSENGER_APP_ID") and all(values.values()) else {}
    body = CreateChannel(type="facebook", name="Messenger demo", pageId=DEMO_PAGE_ID, **live)
    return create_channel(_acting_admin(admin_id, WORKSPACE, TENANT), body).model_dump(mode="json")


def create_demo_web_chat(admin_id: str, origins: list[str]) -> dict:
    """The demo workspace's web chat, embedded by the demo shop page the gateway serves."""
    from utalk.models.channels import CreateChannel
    from utalk.services.channels import create_channel, list_channels

    existing = [c for c in list_channels(WORKSPACE) if c.type == "web"]
    if existing:
        return existing[0].model_dump(mode="json")
    body = CreateChannel(type="web", name="Web chat demo", allowedOrigins=origins,
                         widget={"title": "Tienda Luna", "greeting": "¡Hola! ¿En qué podemos ayudarte?",
                                 "placeholder": "Escribe tu mensaje…"})
    return create_channel(_acting_admin(admin_id, WORKSPACE, TENANT), body).model_dump(mode="json")


def seed(web_origins: tuple[str, ...] = ("http://127.0.0.1:3001", "http://localhost:3001")) -> dict:
    email = os.environ.get("UTALK_DEMO_ADMIN_EMAIL", "admin@demo.utalk.app")
    password = os.environ.get("UTALK_DEMO_ADMIN_PASSWORD", "utalk-demo-2026")
    create_workspace(WORKSPACE, TENANT, "Demo")
    user_id = create_admin(WORKSPACE, TENANT, email, password)
    channel = create_demo_channel(user_id)
    page = create_demo_page(user_id)
    web = create_demo_web_chat(user_id, list(web_origins))
    return {"webChat": {"channelKey": web["channelKey"]},"tenantId": TENANT, "workspaceId": WORKSPACE, "userId": user_id, "email": email,
            "password": password, "channel": {"number": channel["address"], "provider": channel["provider"]},
            "messenger": {"pageId": page["address"], "provider": page["provider"]}}


if __name__ == "__main__":
    print(seed())
