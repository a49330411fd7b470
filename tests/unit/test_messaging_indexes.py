"""Every messaging query declared in `utalk.repositories.queries` has its composite index.

Firestore serves a query with several equality filters plus an order by merging the per-filter
indexes `(filter ASC, order...)`, so one index per filter covers every combination the API allows.
"""
import json
from pathlib import Path

import pytest

from utalk.repositories import queries

INDEXES = json.loads((Path(__file__).resolve().parents[2] / "firestore.indexes.json").read_text())["indexes"]


def _declared() -> set[tuple]:
    return {(i["collectionGroup"], i.get("queryScope", "COLLECTION"),
             tuple((f["fieldPath"], f.get("order", "ASCENDING")) for f in i["fields"])) for i in INDEXES}


@pytest.mark.parametrize("spec", queries.ALL, ids=lambda s: f"{s.collection}-{s.order[0][0]}-{s.scope}")
def test_each_filter_of_each_query_has_its_index(spec):
    declared = _declared()
    for field in spec.filters:
        need = (spec.collection, spec.scope, tuple(spec.index_fields(field)))
        assert need in declared, f"firestore.indexes.json lacks {need}"


def test_repository_builds_its_query_from_the_spec():
    """The list query orders exactly as the spec says (so the index check above is the real query)."""
    from unittest.mock import MagicMock

    from utalk.repositories.conversations import ConversationRepository

    repo = ConversationRepository.__new__(ConversationRepository)
    query = MagicMock()
    query.where.return_value = query
    query.order_by.return_value = query
    query.limit.return_value.stream.return_value = []
    repo.conversations = query
    repo.list({"status": "open", "botEnabled": True}, 10, None)
    fields = [c.kwargs["filter"].field_path for c in query.where.call_args_list]
    assert set(fields) <= set(queries.CONVERSATIONS_BY_ACTIVITY.filters) and len(fields) == 2
    orders = [(c.args[0], c.kwargs["direction"]) for c in query.order_by.call_args_list]
    assert orders == [*queries.CONVERSATIONS_BY_ACTIVITY.order, ("__name__", "DESCENDING")]


# -- the queries the repositories really build, against the declared indexes ---------------------
def required_indexes(query) -> set[tuple]:
    """The composite indexes Firestore needs for `query` (a google.cloud.firestore Query): one per
    equality (==, in, is null) filter, that field first then the query's order (Firestore merges
    them for several filters). A range must be on the first order field; equality filters alone,
    or a range and order on one field, are served by the automatic single-field indexes."""
    proto = query._to_protobuf()
    collection = proto.from_[0].collection_id
    equal, ranges = [], []

    def walk(f):
        if "composite_filter" in f:
            for sub in f.composite_filter.filters:
                walk(sub)
        elif "field_filter" in f:
            op = f.field_filter.op.name
            (equal if op in ("EQUAL", "IN") else ranges).append(f.field_filter.field.field_path)
        else:
            assert f.unary_filter.op.name == "IS_NULL", f
            equal.append(f.unary_filter.field.field_path)

    if "where" in proto:
        walk(proto.where)
    order = [(o.field.field_path, o.direction.name) for o in proto.order_by if o.field.field_path != "__name__"]
    assert all(r == order[0][0] for r in ranges), f"a range must be on the first order field: {proto}"
    if not order:
        return set()
    return {(collection, "COLLECTION", ((field, "ASCENDING"), *order)) for field in equal}


def _built_queries():
    """Every list query of the repositories, in each filter combination the API can ask for."""
    import itertools

    from utalk.models.escalation_summary import WAITING
    from utalk.repositories import inbox
    from utalk.repositories.base import WorkspaceScope, encode_cursor
    from utalk.repositories.conversations import ConversationRepository

    convs, scope = ConversationRepository("ws_x"), WorkspaceScope("ws_x")
    values = {"status": "open", "channel": "whatsapp", "assignedAgent": None, "botEnabled": False,
              "escalation.status": list(WAITING)}
    combos = [dict(c) for n in range(3) for c in itertools.combinations(values.items(), n)]
    combos.append({"assignedAgent": "u1", "escalation.status": ["pending"]})
    at = "2026-01-01T00:00:00+00:00"
    for filters in combos:
        yield convs.activity_query(filters)
        yield convs.activity_query(filters, encode_cursor([at, "conv_1"]))
        for field, spec in queries.CUSTOMER_LOOKUPS.items():
            yield from convs.prefix_queries(field, ["Ana", "ana"], filters)
            yield from convs.prefix_queries(field, ["+5215"], filters, encode_cursor([spec.tag, "Ana", "conv_1"]))
    for statuses, reason, agent, since in itertools.product(
            ([], ["pending"], ["assigned", "accepted"]), (None, "keyword"), (None, "u1"), (None, at)):
        from datetime import datetime
        yield inbox.escalations_query(scope, statuses=statuses, reason=reason, agent_id=agent,
                                      since=since and datetime.fromisoformat(since))
    yield inbox.escalations_query(scope, statuses=["pending"], cursor=encode_cursor(["esc", at, "esc_1"]))
    for status in (None, "online"):
        yield inbox.agents_query(scope, status=status, cursor=encode_cursor(["agents", "u1"]))


def test_every_query_the_repositories_build_has_its_indexes():
    declared, checked = _declared(), 0
    for query in _built_queries():
        for need in required_indexes(query):
            assert need in declared, f"firestore.indexes.json lacks {need}"
            checked += 1
    assert checked > 100   # the walk did see the filtered queries


def test_the_check_knows_a_missing_index():
    from google.cloud.firestore import FieldFilter

    from utalk.repositories.base import WorkspaceScope

    query = WorkspaceScope("ws_x").collection("conversations").where(filter=FieldFilter("unreadCount", "==", 0)) \
        .order_by("lastMessageAt", direction="DESCENDING")
    [need] = required_indexes(query)
    assert need == ("conversations", "COLLECTION", (("unreadCount", "ASCENDING"), ("lastMessageAt", "DESCENDING")))
    assert need not in _declared()
