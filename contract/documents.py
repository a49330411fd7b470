"""The committed contract documents: which files, how they are written, and what makes one stale."""
from __future__ import annotations

import json
from pathlib import Path

from contract import ROOT, openapi

COMMAND = "PYTHONPATH=.:shared .venv/bin/python -m contract --write"


def dump(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def generated() -> dict[Path, dict]:
    return {openapi.DOC: openapi.build()}


def problems() -> list[str]:
    """What CI refuses: a committed document that is not what the code generates."""
    found = []
    for path, doc in generated().items():
        if not path.is_file() or path.read_text() != dump(doc):
            found.append(f"{path.relative_to(ROOT)} is stale: run {COMMAND}")
    return found
