"""Access documents (`workspaces/{ws}/access/{userId}`: role, status): the server's current decision
about a user, which firestore.rules check on every client read.

A Firebase session lives on a custom token minted once (an hour); the rules compare its claims with
this document, so deactivating or demoting a user ends their Firestore reads from the next request
on. It is not the user document because rules cannot hide fields and `users/` holds password
hashes; clients cannot read it either. Written in the same batch or transaction as every change of
the user's role or status (repositories/users.py), so the two never disagree.
"""
from __future__ import annotations

from google.api_core.exceptions import AlreadyExists

from utalk.repositories.base import WorkspaceScope, read

FIELDS = ("role", "status")


def ref(scope: WorkspaceScope, user_id: str):
    return scope.collection("access").document(user_id)


def granted(stored_user: dict) -> dict:
    """The access document of a stored user."""
    return {k: stored_user[k] for k in FIELDS}


def get(workspace_id: str, user_id: str) -> dict | None:
    return read(ref(WorkspaceScope(workspace_id), user_id))


def backfill(workspace_id: str, stored_user: dict) -> dict:
    """The access document of a user created before access documents existed: created from the user
    document, never overwriting one (a deactivation written meanwhile wins)."""
    doc = ref(WorkspaceScope(workspace_id), stored_user["id"])
    try:
        doc.create(granted(stored_user))
    except AlreadyExists:
        return read(doc) or granted(stored_user)
    return granted(stored_user)
