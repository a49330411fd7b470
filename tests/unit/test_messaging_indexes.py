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
