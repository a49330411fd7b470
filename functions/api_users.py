"""Admin endpoints for the users and agents of the admin's own workspace."""
from utalk import http
from utalk.models.common import Page
from utalk.models.users import CreateUser, UpdateUser, User, UserQuery
from utalk.services import users


@http.endpoint("users_create", role="admin", body=CreateUser, response={201: User}, raises=(409,))
def create(call: http.Call):
    return users.create_user(call.principal, call.body), 201


@http.endpoint("users_list", role="admin", query=UserQuery, response=Page[User])
def list_users(call: http.Call):
    q = call.query
    items, cursor = users.list_users(call.workspace_id, q.role, q.status, q.limit, q.cursor)
    return {"items": [u.model_dump(mode="json") for u in items], "nextCursor": cursor}


@http.endpoint("users_get", role="admin", response=User, raises=(404,))
def get(call: http.Call):
    return users.get_user(call.workspace_id, call.params["userId"])


@http.endpoint("users_update", role="admin", body=UpdateUser, response=User, raises=(404, 409))
def update(call: http.Call):
    return users.update_user(call.principal, call.params["userId"], call.body)


@http.endpoint("users_deactivate", role="admin", response=User, raises=(404, 409))
def deactivate(call: http.Call):
    return users.deactivate_user(call.principal, call.params["userId"])
