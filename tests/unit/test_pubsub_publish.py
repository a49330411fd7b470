"""Publish retries what the Publisher API retries, gives up on the rest, and honours its deadline."""
import grpc
import pytest
from google.api_core import exceptions

from utalk import pubsub


class Failed(grpc.RpcError, grpc.Call):
    """What a failed call's future raises (a grpc.Call carrying the status)."""

    def __init__(self, code):
        self._code = code

    def code(self):
        return self._code

    def details(self):
        return "injected"

    def result(self, timeout=None):
        raise self

    def initial_metadata(self):
        return ()

    trailing_metadata = initial_metadata

    def is_active(self):
        return False

    def time_remaining(self):
        return None

    def cancel(self):
        return True

    def add_callback(self, callback):
        return False


class Answered:
    def __init__(self, ids):
        self.message_ids = ids

    def result(self, timeout=None):
        return self


@pytest.fixture
def calls(monkeypatch):
    answers = []
    monkeypatch.setattr(pubsub.Publish, "_start", lambda self: answers.pop(0))
    monkeypatch.setattr(pubsub.time, "sleep", lambda s: None)
    return answers


def test_transient_errors_are_retried(calls):
    calls += [Failed(grpc.StatusCode.UNAVAILABLE), Failed(grpc.StatusCode.DEADLINE_EXCEEDED), Answered(["1"])]
    assert pubsub.publish("t", {"a": 1}, k="v").result() == ["1"]
    assert calls == []


def test_permanent_errors_are_raised_at_once(calls):
    calls += [Failed(grpc.StatusCode.NOT_FOUND), Answered(["never"])]
    with pytest.raises(exceptions.NotFound):
        pubsub.publish("t", {}).result()
    assert len(calls) == 1


def test_retries_stop_at_the_deadline(calls):
    calls += [Failed(grpc.StatusCode.UNAVAILABLE)] * 3
    with pytest.raises(exceptions.ServiceUnavailable):
        pubsub.publish("t", {}).result(timeout=0.05)


def test_message_encodes_json_and_string_attributes():
    msg = pubsub.message({"b": [1, 2]}, ws="w1", n=3, skipped=None)
    assert msg.data == b'{"b":[1,2]}' and dict(msg.attributes) == {"ws": "w1", "n": "3"}
