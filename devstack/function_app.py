"""One function as its own WSGI app, as Cloud Functions runs it (no gateway in front).

    UTALK_FUNCTION=twilio_inbound gunicorn devstack.function_app:app

The gateway serves every function behind one port for the local stack; benchmarks use this to
measure a function the way it is deployed: its own functions-framework app in its own process.
"""
import os

from devstack.gateway import function_app

app = function_app(os.environ["UTALK_FUNCTION"])
