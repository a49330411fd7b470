"""Reading what Firestore field transforms produced, from the commit's answer (no extra read)."""
from __future__ import annotations

from google.cloud import firestore
from google.cloud.firestore_v1.transforms import Sentinel, _NumericValue, _ValueList


def is_sentinel(value) -> bool:
    """A value the client turns into something other than stored data: a field transform
    (SERVER_TIMESTAMP, Increment, ArrayUnion, ...) or DELETE_FIELD."""
    return isinstance(value, (Sentinel, _ValueList, _NumericValue))


def transform_result(write_result, fields: dict, path: str):
    """The value a field transform produced (e.g. a counter after Increment), without a read.

    Firestore returns transform results in the order of the transforms, which the client sorts
    by field path; we rebuild that order from the fields we wrote.
    """
    def paths(data: dict, prefix: tuple = ()):
        for key, value in data.items():
            here = prefix + (key,)
            if isinstance(value, dict):
                yield from paths(value, here)
            elif is_sentinel(value) and value is not firestore.DELETE_FIELD:
                yield here

    ordered = sorted(paths(fields))
    index = ordered.index(tuple(path.split(".")))
    value = write_result.transform_results[index]
    kind = value._pb.WhichOneof("value_type") if hasattr(value, "_pb") else value.WhichOneof("value_type")
    return getattr(value._pb if hasattr(value, "_pb") else value, kind)
