"""The breaking-change check: what breaks a client of the released API fails, unless it is a new major."""
from __future__ import annotations

import copy
import json

import pytest

from contract import compat, openapi

RELEASED = json.loads(compat.RELEASED.read_text())
CURRENT = openapi.build()


@pytest.fixture
def doc():
    return copy.deepcopy(CURRENT)


def test_the_current_api_does_not_break_the_released_one():
    assert compat.problems(CURRENT) == []


def test_removing_a_response_field_fails_the_check_unless_it_is_a_new_major(doc):
    del doc["components"]["schemas"]["User"]["properties"]["email"]
    found = compat.breaking(RELEASED, doc)
    assert "GET /api/v1/users/{userId} 200: response field `email` removed" in found
    assert "POST /api/v1/auth/login 200: response field `user.email` removed" in found   # nested in Tokens
    assert compat.problems(doc) and all("without a major version" in p for p in compat.problems(doc))
    doc["info"]["version"] = "2.0.0"
    assert compat.problems(doc) == []


def test_removing_a_route_fails(doc):
    del doc["paths"]["/api/v1/users/{userId}"]["get"]
    assert compat.breaking(RELEASED, doc) == ["GET /api/v1/users/{userId}: operation removed"]


def test_removing_an_enum_value_fails(doc):
    status = doc["components"]["schemas"]["SetStatus"]["properties"]["status"]
    status["enum"].remove("pending")
    assert compat.breaking(RELEASED, doc) == [
        "POST /api/v1/conversations/{conversationId}/status: enum value \"pending\" removed from request `status`"]


def test_making_an_optional_input_required_fails(doc):
    doc["components"]["schemas"]["UpdateUser"].setdefault("required", []).append("name")
    limit = next(p for p in doc["paths"]["/api/v1/users"]["get"]["parameters"] if p["name"] == "limit")
    limit["required"] = True
    assert set(compat.breaking(RELEASED, doc)) == {
        "PATCH /api/v1/users/{userId}: request field `name` is now required",
        "GET /api/v1/users: query parameter `limit` is now required"}


def test_additions_are_not_breaking(doc):
    doc["components"]["schemas"]["User"]["properties"]["nickname"] = {"type": "string"}
    doc["components"]["schemas"]["SetStatus"]["properties"]["status"]["enum"].append("archived")
    doc["paths"]["/api/v1/things"] = {"get": {"operationId": "things", "responses": {"200": {"description": "ok"}}}}
    doc["components"]["schemas"]["UpdateUser"]["properties"]["nickname"] = {"type": "string"}
    assert compat.breaking(RELEASED, doc) == []
