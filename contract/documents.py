"""The committed contract documents: which files, how they are written, and what makes one stale."""
from __future__ import annotations

import json
from pathlib import Path

from contract import ROOT, asyncapi, compat, openapi

COMMAND = "PYTHONPATH=.:shared .venv/bin/python -m contract --write"


def dump(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def generated() -> dict[Path, dict]:
    return {openapi.DOC: openapi.build(), asyncapi.DOC: asyncapi.build()}


def stale() -> list[str]:
    """A committed document that is not what the code generates."""
    return [f"{path.relative_to(ROOT)} is stale: run {COMMAND}" for path, doc in generated().items()
            if not path.is_file() or path.read_text() != dump(doc)]


def problems() -> list[str]:
    """What CI refuses: a stale document, or a REST API that broke the released one's clients."""
    return stale() + compat.problems(openapi.build())


def release() -> Path:
    """Record the current OpenAPI as the released one (when a version ships)."""
    compat.RELEASED.write_text(dump(openapi.build()))
    return compat.RELEASED
