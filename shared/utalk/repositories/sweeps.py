"""The cross-workspace reads of platform jobs: which workspaces have work for a scheduled sweep.

Everything else in the data layer is scoped to one workspace. A scheduled job (utalk.jobs) has
to find the workspaces first; these queries return workspace ids only, never a workspace's
data, and each page costs at most `limit` reads however many workspaces there are.
"""
from __future__ import annotations

from google.cloud import firestore

from utalk import clients
from utalk.jobs import Page

# A document id after every real one (ids here are ASCII): "after all of workspace W".
_PAST_LAST_ID = "\uf8ff"


def workspaces_with_waiting_escalations(cursor: str | None, limit: int) -> Page:
    """Ids of workspaces with pending escalations, in id order, from after workspace `cursor`.

    A collection-group query (index: escalations.status, collection-group scope) ordered by
    document path, so one workspace's escalations are contiguous and the next page starts after
    all of the last one's."""
    db = clients.firestore()
    query = db.collection_group("escalations").where(filter=firestore.FieldFilter("status", "==", "pending")) \
        .order_by("__name__").limit(limit)
    if cursor:
        query = query.start_after({"__name__": db.document(f"workspaces/{cursor}/escalations/{_PAST_LAST_ID}")})
    docs = list(query.stream())
    found = list(dict.fromkeys(d.reference.parent.parent.id for d in docs))
    return Page(found, found[-1] if len(docs) == limit else None)
