"""Users and agent profiles of one workspace, plus the global email index used to log in."""
from __future__ import annotations

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from utalk import clients, errors
from utalk.repositories import access
from utalk.repositories.base import WorkspaceScope, cursor_text, decode_cursor, encode_cursor, read, safe_id

EMAILS = "userEmails"


def find_login(email: str) -> dict | None:
    """The one lookup that precedes knowing the workspace: email -> stored user (with hash)."""
    db = clients.firestore()
    entry = read(db.collection(EMAILS).document(email))
    if entry is None:
        return None
    return UserRepository(entry["workspaceId"]).get(entry["userId"])


class UserRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.users = self.scope.collection("users")
        self.agents = self.scope.collection("agents")

    def get(self, user_id: str) -> dict | None:
        return read(self.users.document(safe_id(user_id, "user")))

    def agent(self, user_id: str) -> dict | None:
        return read(self.agents.document(user_id))

    def agents_for(self, user_ids: list[str]) -> dict[str, dict]:
        refs = [self.agents.document(u) for u in user_ids]
        return {s.id: s.to_dict() for s in self.scope.db.get_all(refs) if s.exists} if refs else {}

    def create(self, user: dict, agent: dict | None) -> None:
        """User, its email index entry, access document and agent profile in one batch; a taken email
        fails whole."""
        batch = self.scope.db.batch()
        batch.create(self.scope.db.collection(EMAILS).document(user["email"]),
                     {"userId": user["id"], "workspaceId": user["workspaceId"], "tenantId": user["tenantId"]})
        batch.create(self.users.document(user["id"]), user)
        batch.set(access.ref(self.scope, user["id"]), access.granted(user))
        if agent is not None:
            batch.set(self.agents.document(user["id"]), agent)
        try:
            batch.commit()
        except AlreadyExists:
            raise errors.Conflict("A user with this email already exists", code="email_taken") from None

    def update(self, user_id: str, fields: dict, agent_fields: dict | None = None) -> None:
        """A change of role or status rewrites the access document from the user document it read in
        the same transaction: two admins changing one user at once cannot leave them disagreeing."""
        user_ref = self.users.document(user_id)

        @firestore.transactional
        def run(txn):
            stored = read(user_ref, txn) if set(access.FIELDS) & set(fields) else None
            if fields:
                txn.update(user_ref, fields)
            if agent_fields:
                txn.set(self.agents.document(user_id), agent_fields, merge=True)
            if stored is not None:
                txn.set(access.ref(self.scope, user_id), access.granted({**stored, **fields}))

        run(self.scope.db.transaction())

    def record_login(self, user_id: str) -> None:
        self.users.document(user_id).update({"lastLogin": firestore.SERVER_TIMESTAMP})

    def list(self, role: str | None, status: str | None, limit: int, cursor: str | None):
        query = self.users
        if role:
            query = query.where(filter=firestore.FieldFilter("role", "==", role))
        if status:
            query = query.where(filter=firestore.FieldFilter("status", "==", status))
        query = query.order_by("email")
        if cursor:
            _, email = decode_cursor(cursor, "users", cursor_text)
            query = query.start_after({"email": email})
        docs = [d.to_dict() for d in query.limit(limit + 1).stream()]
        next_cursor = encode_cursor(["users", docs[limit - 1]["email"]]) if len(docs) > limit else None
        return docs[:limit], next_cursor
