"""Admin endpoints for the users and agents of the admin's own workspace."""
from utalk import http
from utalk.models.users import CreateUser, UpdateUser, UserQuery
from utalk.services import users


@http.endpoint("users_create", role="admin", body=CreateUser)
def create(call: http.Call):
    return users.create_user(call.principal, call.body), 201


@http.endpoint("users_list", role="admin", query=UserQuery)
def list_users(call: http.Call):
    q = call.query
    items, cursor = users.list_users(call.workspace_id, q.role, q.status, q.limit, q.cursor)
    return {"items": [u.model_dump(mode="json") for u in items], "nextCursor": cursor}


@http.endpoint("users_get", role="admin")
def get(call: http.Call):
    return users.get_user(call.workspace_id, call.params["userId"])


@http.endpoint("users_update", role="admin", body=UpdateUser)
def update(call: http.Call):
    return users.update_user(call.principal, call.params["userId"], call.body)


@http.endpoint("users_deactivate", role="admin")
def deactivate(call: http.Call):
    return users.deactivate_user(call.principal, call.params["userId"])
