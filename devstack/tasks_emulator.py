"""Runs gcloud-tasks-emulator bound to 127.0.0.1 (upstream binds every interface, [::]), attaching
the OIDC token Cloud Tasks would: each task's `http_request.oidc_token`, minted with the stack's key.

Started with the isolated tasks venv's python: `python tasks_emulator.py PORT`.
"""
import sys
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack import oidc  # noqa: E402

_server = grpc.server


def _loopback_server(*args, **kwargs):
    server = _server(*args, **kwargs)
    add = server.add_insecure_port
    server.add_insecure_port = lambda address: add("127.0.0.1:" + address.rsplit(":", 1)[1])
    return server


grpc.server = _loopback_server

from gcloud_tasks_emulator import server as upstream  # noqa: E402  (after the patch on purpose)
from gcloud_tasks_emulator.__main__ import main  # noqa: E402

_request = upstream._make_task_request


def _with_oidc_token(queue_name, task, host, port):
    token = task.http_request.oidc_token
    if token.service_account_email:
        # Cloud Tasks' default audience is the target URL.
        task.http_request.headers["Authorization"] = "Bearer " + oidc.mint(
            token.audience or task.http_request.url, token.service_account_email)
    return _request(queue_name, task, host, port)


upstream._make_task_request = _with_oidc_token

if __name__ == "__main__":
    sys.argv = ["gcloud-tasks-emulator", "start", "--port", sys.argv[1], "--quiet"]
    main()
