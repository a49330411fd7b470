"""The cross-workspace reads of platform jobs: where a scheduled sweep has work.

Everything else in the data layer is scoped to one workspace. A scheduled job (utalk.jobs) has
to find its work across workspaces first; these queries return ids (and the one field their
order needs), never a workspace's data, and each page costs at most `limit` reads however many
workspaces and documents there are: they find the due work, they do not scan for it.
"""
from __future__ import annotations

from datetime import datetime

from google.cloud import firestore

from utalk import clients, errors
from utalk.jobs import Page
from utalk.models.conversations import NOT_CLOSED
from utalk.repositories import queries
from utalk.repositories.base import cursor_id, cursor_key, cursor_time, decode_cursor, encode_cursor

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


def cursor_number(value) -> float:
    """A cursor field holding a setting's number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("not a number")
    return value


def _after(query, cursor: str | None, field: str):
    """Resume a query ordered by (`field`, __name__) after the row the cursor names."""
    if not cursor:
        return query
    at, name = decode_cursor(cursor, cursor_time, cursor_key)
    try:
        path = clients.firestore().document(name)
    except (TypeError, ValueError):
        raise errors.BadRequest("Invalid cursor", code="invalid_cursor") from None
    return query.start_after({field: at, "__name__": path})


def _page(docs: list, limit: int, field: str) -> str | None:
    return encode_cursor([docs[-1].get(field).isoformat(), docs[-1].reference.path]) if len(docs) == limit else None


def lapsed_offers(now: datetime, cursor: str | None, limit: int) -> tuple[list[tuple[str, str, str]], str | None]:
    """(workspace, escalation, offer) of offers still standing past their expiry, oldest lapse
    first (index: escalations status ASC, offerExpiresAt ASC, collection-group scope)."""
    spec = queries.ESCALATIONS_LAPSED
    query = clients.firestore().collection_group(spec.collection) \
        .where(filter=firestore.FieldFilter("status", "==", "assigned")) \
        .where(filter=firestore.FieldFilter("offerExpiresAt", "<=", now)) \
        .order_by("offerExpiresAt").order_by("__name__").select(["offerId", "offerExpiresAt"]).limit(limit)
    docs = list(_after(query, cursor, "offerExpiresAt").stream())
    rows = [(d.reference.parent.parent.id, d.id, d.get("offerId")) for d in docs]
    return rows, _page(docs, limit, "offerExpiresAt")


def idle_conversations(before: datetime, cursor: str | None, limit: int
                       ) -> tuple[list[tuple[str, str, datetime]], str | None]:
    """(workspace, conversation, lastMessageAt) of conversations not closed whose last message is
    older than `before`, oldest first: only those, however many conversations there are (index:
    conversations status ASC, lastMessageAt ASC, collection-group scope)."""
    spec = queries.CONVERSATIONS_IDLE
    query = clients.firestore().collection_group(spec.collection) \
        .where(filter=firestore.FieldFilter("status", "in", list(NOT_CLOSED))) \
        .where(filter=firestore.FieldFilter("lastMessageAt", "<", before)) \
        .order_by("lastMessageAt").order_by("__name__").select(["lastMessageAt"]).limit(limit)
    docs = list(_after(query, cursor, "lastMessageAt").stream())
    rows = [(d.reference.parent.parent.id, d.id, d.get("lastMessageAt")) for d in docs]
    return rows, _page(docs, limit, "lastMessageAt")


def workspace_settings_of(workspace_ids: list[str], field: str) -> dict[str, object]:
    """One setting of several workspaces in one read (field mask): `settings.<field>` by id."""
    db = clients.firestore()
    refs = [db.collection("workspaces").document(ws) for ws in dict.fromkeys(workspace_ids)]
    found: dict[str, object] = {}
    if not refs:
        return found
    for snap in db.get_all(refs, field_paths=[f"settings.{field}"]):
        if snap.exists:
            found[snap.id] = ((snap.to_dict() or {}).get("settings") or {}).get(field)
    return found


def workspaces_with_setting_below(field: str, bound: float, cursor: str | None, limit: int
                                  ) -> tuple[list[tuple[str, float]], str | None]:
    """(workspace, value) of workspaces whose `settings.<field>` is positive and below `bound`,
    by value then id (the automatic single-field index): the few that differ from a default."""
    db = clients.firestore()
    path = f"settings.{field}"
    query = db.collection("workspaces").where(filter=firestore.FieldFilter(path, "<", bound)) \
        .where(filter=firestore.FieldFilter(path, ">", 0)).order_by(path).order_by("__name__") \
        .select([path]).limit(limit)
    if cursor:
        value, ws = decode_cursor(cursor, cursor_number, cursor_id)
        query = query.start_after({path: value, "__name__": db.collection("workspaces").document(ws)})
    docs = list(query.stream())
    rows = [(d.id, d.get(path)) for d in docs]
    return rows, encode_cursor([rows[-1][1], rows[-1][0]]) if len(docs) == limit else None


def analytics_shards(last_day: str, cursor: str | None, limit: int
                     ) -> tuple[list[tuple[str, str, str, str]], str | None]:
    """(workspace, day, channel, agent) of analytics counter shards of days up to `last_day`,
    oldest day first, each group once per page (index: analyticsDaily kind ASC, day ASC,
    collection-group scope). The compaction deletes what it folds, so a later run finds only
    what arrived since."""
    spec = queries.ANALYTICS_SHARDS
    db = clients.firestore()
    query = db.collection_group(spec.collection).where(filter=firestore.FieldFilter("kind", "==", "shard")) \
        .where(filter=firestore.FieldFilter("day", "<=", last_day)) \
        .order_by("day").order_by("__name__").select(["day", "channel", "agent"]).limit(limit)
    if cursor:
        day, name = decode_cursor(cursor, cursor_key, cursor_key)
        try:
            query = query.start_after({"day": day, "__name__": db.document(name)})
        except (TypeError, ValueError):
            raise errors.BadRequest("Invalid cursor", code="invalid_cursor") from None
    docs = list(query.stream())
    rows = list(dict.fromkeys((d.reference.parent.parent.id, d.get("day"), d.get("channel") or "",
                               d.get("agent") or "") for d in docs))
    after = encode_cursor([docs[-1].get("day"), docs[-1].reference.path]) if len(docs) == limit else None
    return rows, after
