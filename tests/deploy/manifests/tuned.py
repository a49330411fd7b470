"""One function's settings changed (more memory for agents_set_status): a one-function deploy."""
import dataclasses

from with_schedule import FUNCTIONS as BASE

FUNCTIONS = tuple(dataclasses.replace(f, memory="512Mi") if f.name == "agents_set_status" else f for f in BASE)
