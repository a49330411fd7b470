"""Auth endpoints: login, refresh (rotating), logout, me."""
from utalk import http
from utalk.models.users import LoginIn, RefreshIn, Tokens, User
from utalk.services import auth


@http.endpoint("auth_login", auth=False, body=LoginIn, response=Tokens, raises=(401, 403, 429))
def login(call: http.Call):
    return auth.login(call.body.email, call.body.password, call.client_ip)


@http.endpoint("auth_refresh", auth=False, body=RefreshIn, response=Tokens, raises=(401,))
def refresh(call: http.Call):
    return auth.refresh(call.body.refreshToken)


@http.endpoint("auth_logout", auth=False, body=RefreshIn, response={204: None}, raises=(401,))
def logout(call: http.Call):
    auth.logout(call.body.refreshToken)
    return http.flask.Response(status=204)


@http.endpoint("auth_me", response=User)
def me(call: http.Call):
    return auth.me(call.principal)
