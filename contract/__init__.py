"""The API contract: OpenAPI (REST) and AsyncAPI (realtime) documents generated from the code.

`python -m contract --write` regenerates docs/openapi.json and docs/asyncapi.json; `--check` exits
non-zero when a committed copy is stale or the REST API broke compatibility with the released one
(contract/compat.py). Tooling only: no function imports this package.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
