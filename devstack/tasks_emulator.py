"""Runs gcloud-tasks-emulator bound to 127.0.0.1 (upstream binds every interface, [::]).

Started with the isolated tasks venv's python: `python tasks_emulator.py PORT`.
"""
import sys

import grpc

_server = grpc.server


def _loopback_server(*args, **kwargs):
    server = _server(*args, **kwargs)
    add = server.add_insecure_port
    server.add_insecure_port = lambda address: add("127.0.0.1:" + address.rsplit(":", 1)[1])
    return server


grpc.server = _loopback_server

from gcloud_tasks_emulator.__main__ import main  # noqa: E402  (after the patch on purpose)

if __name__ == "__main__":
    sys.argv = ["gcloud-tasks-emulator", "start", "--port", sys.argv[1], "--quiet"]
    main()
