"""Raw-protobuf RPCs retry what the API retries, give up on the rest, and honour their deadline."""
import grpc
import pytest
from google.api_core import exceptions

from utalk import pubsub, rpc


class Failed(grpc.RpcError, grpc.Call):
    """What a failed call raises: a grpc.Call carrying the status."""

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
    def __init__(self, value):
        self.value = value

    def result(self, timeout=None):
        return self.value


class Stub:
    """Plays a scripted series of outcomes."""

    def __init__(self, outcomes):
        self.outcomes, self.calls = list(outcomes), 0

    def __call__(self, request, timeout=None, metadata=None):
        self.calls += 1
        return self.outcomes.pop(0).result()


def method(outcomes, codes=pubsub.RETRYABLE):
    m = rpc.Method.__new__(rpc.Method)
    m._stub, m.path, m.retry_codes, m.multiplier = Stub(outcomes), "/svc/Method", codes, 4.0
    return m


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(rpc.time, "sleep", lambda s: None)


def test_transient_errors_are_retried():
    m = method([Failed(grpc.StatusCode.UNAVAILABLE), Failed(grpc.StatusCode.DEADLINE_EXCEEDED), Answered("ok")])
    assert m.call(b"req", ()) == "ok"
    assert m._stub.calls == 3


def test_permanent_errors_are_raised_at_once():
    m = method([Failed(grpc.StatusCode.NOT_FOUND), Answered("never")])
    with pytest.raises(exceptions.NotFound):
        m.call(b"req", ())
    assert m._stub.calls == 1


def test_retries_stop_at_the_deadline():
    m = method([Failed(grpc.StatusCode.UNAVAILABLE)] * 3)
    with pytest.raises(exceptions.ServiceUnavailable):
        m.call(b"req", (), timeout=0.05)


def test_a_call_only_retries_its_own_api_codes():
    m = method([Failed(grpc.StatusCode.ABORTED), Answered("ok")], codes=frozenset({"UNAVAILABLE"}))
    with pytest.raises(exceptions.Aborted):
        m.call(b"req", ())


def test_message_encodes_json_and_string_attributes():
    msg = pubsub.message({"b": [1, 2]}, ws="w1", n=3, skipped=None)
    assert msg.data == b'{"b":[1,2]}' and dict(msg.attributes) == {"ws": "w1", "n": "3"}
