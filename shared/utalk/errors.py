"""Domain and API errors with stable codes; the HTTP layer maps them to the JSON envelope."""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 status: int | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class ValidationFailed(ApiError):
    status, code = 422, "validation_failed"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class RateLimited(ApiError):
    """429 with `Retry-After`; details say which limit (its name, allowance and window) was hit."""
    status, code = 429, "rate_limited"

    def __init__(self, message: str = "Too many requests", *, retry_after: int = 60, limit: str | None = None,
                 allowed: int | None = None, window_seconds: int | None = None):
        seconds = max(1, int(retry_after))
        details = {"retryAfterSeconds": seconds}
        if limit:
            details.update(limit=limit, allowed=allowed, windowSeconds=window_seconds)
        super().__init__(message, details=details, headers={"Retry-After": str(seconds)})


def field_errors(exc) -> list[dict]:
    """A pydantic ValidationError as the `details.fields` of a 400/422: one entry per field."""
    return [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)]


class Unavailable(ApiError):
    status, code = 503, "unavailable"


class Contended(Unavailable):
    """A transaction that still collided with other writers after its retries: nothing was written.
    A task or push handler answers 503 so its queue retries; an API caller gets `concurrent()`."""


def concurrent() -> ApiError:
    """What an API caller hears when others changed the same thing at once: 409, try again."""
    return Conflict("Another request changed this at the same time; retry", code="concurrent_update",
                    headers={"Retry-After": "1"})
