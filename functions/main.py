"""Entry points of every Cloud Function, resolved lazily from the manifest.

functions-framework looks the target up with getattr(); module-level __getattr__ imports only the
handler module that target needs, so a deployed function pays the import cost of its own code alone.
"""
import importlib
import os
import sys

# gRPC's EventEngine client hands every call to its own threads: twice the CPU per unary call of
# the polling client (0.45 vs 0.2 ms per Publish, measured), which the webhook pays 3 times per
# message. Read once, when grpc loads, so it is set before any function module imports it.
os.environ.setdefault("GRPC_EXPERIMENTS", "-event_engine_client")

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)
_shared = os.path.join(os.path.dirname(_here), "shared")
if os.path.isdir(_shared) and _shared not in sys.path:  # repo checkout; deploys vendor utalk/
    sys.path.insert(0, _shared)


def __getattr__(name: str):
    from utalk import manifest

    try:
        fn = manifest.get(name)
    except KeyError:
        raise AttributeError(name) from None
    module, attr = fn.handler.split(":")
    from utalk.config import ConfigError

    try:
        target = getattr(importlib.import_module(module), attr)
    except ConfigError as exc:
        # A module that checks its configuration as it loads: functions-framework imports it before
        # any request, so refuse every request instead (503, logged loudly at each one).
        return _refusing(name, exc)
    if fn.path:  # functions-framework is building this function's app: its own errors in our envelope
        from utalk import http
        http.install_error_handlers()
    return target


def _refusing(name: str, error: Exception):
    from utalk import http, logs

    def refuse(request):
        logs.get("main").critical("%s refuses to serve: %s", name, error, extra={"function": name})
        return http.refuse_misconfigured()
    refuse.__name__ = name
    return refuse
