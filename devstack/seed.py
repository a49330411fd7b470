"""Seeds the demo tenant, workspace, admin user and WhatsApp channel (idempotent: existing ones are kept).

Credentials come from UTALK_DEMO_ADMIN_EMAIL / UTALK_DEMO_ADMIN_PASSWORD, with local defaults. The
channel uses the offline sandbox provider unless TWILIO_ACCOUNT_SID is set.
"""
from __future__ import annotations

import os
import uuid

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from utalk import clients
from utalk.auth.passwords import hash_password

TENANT, WORKSPACE = "tenant_demo", "ws_demo"
DEMO_NUMBER = "+14155238886"  # Twilio's WhatsApp sandbox number
DEFAULT_SETTINGS = {
    "language": "es",
    "agentVisibility": "all",
    "bot": {"enabled": True, "greeting": "¡Hola! Soy el asistente virtual de UTalk. ¿En qué puedo ayudarte?",
            "holdingMessage": "Gracias por tu mensaje. Te comunicaremos con un agente en breve.",
            # provider: "auto" (OpenAI when OPENAI_API_KEY is set, else offline) | "openai" | "offline"
            "provider": "auto", "model": "gpt-4o-mini",
            "systemPrompt": "Eres el asistente de atención al cliente de este negocio. Responde breve y "
                            "amablemente, en el idioma del cliente; no inventes precios ni políticas.",
            "fallback": "No estoy seguro de haber entendido. ¿Puedes darme más detalles?",
            # The offline responder's answers (first entry with a keyword in the message wins).
            "faq": [{"keywords": ["horario", "abren", "cierran"], "intent": "hours",
                     "answer": "Nuestro horario de atención es de lunes a viernes de 9:00 a 18:00."}]},
    "escalation": {"keywords": ["agente", "humano", "asesor", "persona"], "timeoutHours": 12,
                   "confidenceThreshold": 0.5, "routeBySkill": False,
                   "skillsByIntent": {}},   # e.g. {"billing": ["billing"]}: skills an escalation needs
}


def create_workspace(workspace_id: str, tenant_id: str, name: str) -> None:
    db = clients.firestore()
    db.collection("tenants").document(tenant_id).set({"id": tenant_id, "name": name}, merge=True)
    ws = db.collection("workspaces").document(workspace_id)
    if not ws.get().exists:
        ws.set({"id": workspace_id, "tenantId": tenant_id, "name": name, "settings": DEFAULT_SETTINGS,
                "createdAt": firestore.SERVER_TIMESTAMP})


def create_admin(workspace_id: str, tenant_id: str, email: str, password: str, name: str = "Admin") -> str:
    """Create an admin directly (the API needs an admin to exist first). Returns the user id."""
    db = clients.firestore()
    email = email.strip().lower()
    user_id = str(uuid.uuid4())
    batch = db.batch()
    batch.create(db.collection("userEmails").document(email),
                 {"userId": user_id, "workspaceId": workspace_id, "tenantId": tenant_id})
    ws = db.collection("workspaces").document(workspace_id)
    batch.create(ws.collection("users").document(user_id), {
        "id": user_id, "email": email, "name": name, "role": "admin", "workspaceId": workspace_id,
        "tenantId": tenant_id, "status": "active", "passwordHash": hash_password(password),
        "createdAt": firestore.SERVER_TIMESTAMP, "updatedAt": firestore.SERVER_TIMESTAMP, "lastLogin": None})
    batch.set(ws.collection("agents").document(user_id), {
        "userId": user_id, "status": "offline", "maxConversations": 10, "currentConversations": 0,
        "skills": [], "createdAt": firestore.SERVER_TIMESTAMP})
    try:
        batch.commit()
    except AlreadyExists:
        return db.collection("userEmails").document(email).get().get("userId")
    return user_id


def create_demo_channel(admin_id: str) -> dict:
    """The demo workspace's WhatsApp number, made through the same use case the API uses."""
    from utalk.auth.tokens import Principal
    from utalk.models.channels import CreateChannel
    from utalk.services.channels import create_channel, list_channels

    existing = [c for c in list_channels(WORKSPACE) if c.address == DEMO_NUMBER]
    if existing:
        return existing[0].model_dump(mode="json")
    admin = Principal(admin_id, "admin", WORKSPACE, TENANT, expires_at=0)
    return create_channel(admin, CreateChannel(name="WhatsApp demo", phoneNumber=DEMO_NUMBER)).model_dump(mode="json")


def seed() -> dict:
    email = os.environ.get("UTALK_DEMO_ADMIN_EMAIL", "admin@demo.utalk.app")
    password = os.environ.get("UTALK_DEMO_ADMIN_PASSWORD", "utalk-demo-2026")
    create_workspace(WORKSPACE, TENANT, "Demo")
    user_id = create_admin(WORKSPACE, TENANT, email, password)
    channel = create_demo_channel(user_id)
    return {"tenantId": TENANT, "workspaceId": WORKSPACE, "userId": user_id, "email": email,
            "password": password, "channel": {"number": channel["address"], "provider": channel["provider"]}}


if __name__ == "__main__":
    print(seed())
