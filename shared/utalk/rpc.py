"""Unary gRPC calls with raw protobuf on a Google client's own channel, for the hot paths.

The generated clients wrap each call in proto-plus messages, a retry/timeout decorator stack and
a logging interceptor: a few hundred microseconds of CPU per call, which the inbound webhook pays
on every message. Its commit and publish call the method on the same authenticated channel with
the generated protobuf classes instead, keeping the API's own retry codes and backoff.
"""
from __future__ import annotations

import functools
import time

import grpc
from google.api_core import exceptions

ATTEMPT_TIMEOUT = 10.0  # per attempt; retries go on until the caller's overall timeout


class Method:
    """One RPC method on a channel, called blocking on the asking thread.

    Not as gRPC futures: a future's completion is handled on a channel thread, and the GIL
    handoffs cost more CPU than the overlap saves on a multi-threaded worker (measured on the
    inbound webhook under load).
    """

    def __init__(self, channel, path: str, response_cls, retry_codes: frozenset[str], multiplier: float):
        self._stub = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=response_cls.FromString,
                                         _registered_method=True)  # as generated stubs do: less per call
        self.path, self.retry_codes, self.multiplier = path, retry_codes, multiplier

    def call(self, request, metadata, timeout: float = 30.0):
        """The response; transient failures are retried with backoff until `timeout`."""
        deadline, delay = time.monotonic() + timeout, 0.1
        while True:
            try:
                return self._stub(request, metadata=metadata,
                                  timeout=min(ATTEMPT_TIMEOUT, max(deadline - time.monotonic(), 0.001)))
            except grpc.RpcError as err:
                if err.code().name not in self.retry_codes or time.monotonic() + delay >= deadline:
                    raise exceptions.from_grpc_error(err) from None
            time.sleep(delay)
            delay = min(delay * self.multiplier, 60.0)


def client_error(exc: BaseException) -> bool:
    """A call refused for what was sent (4xx: ALREADY_EXISTS, INVALID_ARGUMENT, ...), not for the
    server's state: in a coalesced call, possibly one caller's doing (`Coalescer(isolate=...)`)."""
    return isinstance(exc, exceptions.ClientError)


@functools.lru_cache(maxsize=None)
def method(channel, path: str, response_cls, retry_codes: frozenset[str], multiplier: float) -> Method:
    """The method for this channel, built once (the stub is reusable and thread-safe)."""
    return Method(channel, path, response_cls, retry_codes, multiplier)
