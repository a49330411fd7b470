"""One function as its own WSGI app, as Cloud Functions runs it (no gateway in front).

    UTALK_FUNCTION=twilio_inbound gunicorn devstack.function_app:app

The gateway serves every function behind one port for the local stack; benchmarks use this to
measure a function the way it is deployed: its own functions-framework app in its own process.
"""
import os
from pathlib import Path

from functions_framework import create_app

from utalk import manifest

_name = os.environ["UTALK_FUNCTION"]
app = create_app(_name, str(Path(__file__).resolve().parent.parent / "functions" / "main.py"),
                 manifest.get(_name).signature_type)
