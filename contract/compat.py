"""The breaking-change check: the generated OpenAPI against the last released one.

Breaking, unless the document's major version (`info.version`, contract/openapi.py VERSION) is
above the released one's: an operation removed; a field removed from a success response; an
enum value removed from anything an operation reads or answers; an input (body field, query or
path parameter) that was optional, or did not exist, now required. Adding routes, optional
inputs, response fields and enum values is not breaking. `python -m contract --release` records
the current document as released (docs/openapi.released.json) when a version ships.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from contract import ROOT

RELEASED = ROOT / "docs" / "openapi.released.json"
METHODS = ("get", "put", "post", "delete", "patch")


@dataclass
class Shape:
    """What a schema promises, flattened to dotted paths ("user.agent.skills[]")."""
    fields: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)
    enums: dict[str, set] = field(default_factory=dict)


def _resolve(schema: dict, doc: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def shape(schema: dict | None, doc: dict) -> Shape:
    out = Shape()

    def walk(node: dict, path: str, seen: tuple[str, ...]) -> None:
        ref = node.get("$ref")
        if ref in seen:
            return
        node = _resolve(node, doc)
        seen = seen + ((ref,) if ref else ())
        if "enum" in node:
            out.enums.setdefault(path, set()).update(json.dumps(v) for v in node["enum"])
        if "const" in node:
            out.enums.setdefault(path, set()).add(json.dumps(node["const"]))
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(key, ()):
                walk(branch, path, seen)
        if "items" in node and isinstance(node["items"], dict):
            walk(node["items"], f"{path}[]", seen)
        for name, sub in node.get("properties", {}).items():
            child = f"{path}.{name}" if path else name
            out.fields.add(child)
            if name in node.get("required", ()):
                out.required.add(child)
            walk(sub, child, seen)

    if schema:
        walk(schema, "", ())
    return out


def _json_schema(obj: dict | None, doc: dict) -> dict | None:
    if not obj:
        return None
    if "$ref" in obj and "/responses/" in obj["$ref"]:
        obj = doc["components"]["responses"][obj["$ref"].rsplit("/", 1)[1]]
    return (obj.get("content", {}).get("application/json") or {}).get("schema")


def _operations(doc: dict) -> dict[tuple[str, str], dict]:
    return {(method.upper(), path): op for path, item in doc["paths"].items()
            for method, op in item.items() if method in METHODS}


def _major(doc: dict) -> int:
    return int(str(doc["info"]["version"]).split(".")[0])


def _params(op: dict) -> dict[tuple[str, str], dict]:
    return {(p["in"], p["name"]): p for p in op.get("parameters", ())}


def breaking(released: dict, current: dict) -> list[str]:
    """Every breaking difference from `released` to `current` (empty when compatible)."""
    found: list[str] = []
    now = _operations(current)
    for key, old in _operations(released).items():
        label = f"{key[0]} {key[1]}"
        new = now.get(key)
        if new is None:
            found.append(f"{label}: operation removed")
            continue
        for status, resp in old.get("responses", {}).items():
            if not status.startswith("2"):
                continue
            before = shape(_json_schema(resp, released), released)
            after = shape(_json_schema(new.get("responses", {}).get(status), current), current)
            found += [f"{label} {status}: response field `{f}` removed" for f in sorted(before.fields - after.fields)]
            found += _enums(label, f"{status} response", before, after)
        before = shape(_json_schema(old.get("requestBody"), released), released)
        after = shape(_json_schema(new.get("requestBody"), current), current)
        found += _enums(label, "request", before, after)
        for f in sorted(after.required - before.required):
            parent = f.rpartition(".")[0]
            # required inside an object the client did not send before is not a new demand on it
            if f in before.fields or not parent or parent in before.fields:
                found.append(f"{label}: request field `{f}` is now required")
        old_params, new_params = _params(old), _params(new)
        for pkey, param in new_params.items():
            was = old_params.get(pkey)
            if param.get("required") and not (was and was.get("required")):
                found.append(f"{label}: {pkey[0]} parameter `{pkey[1]}` is now required")
            if was:
                found += _enums(label, f"{pkey[0]} parameter `{pkey[1]}`", shape(was.get("schema"), released),
                                shape(param.get("schema"), current), whole=True)
    return found


def _enums(label: str, where: str, before: Shape, after: Shape, whole: bool = False) -> list[str]:
    out = []
    for path, values in sorted(before.enums.items()):
        if path in after.enums:
            for value in sorted(values - after.enums[path]):
                out.append(f"{label}: enum value {value} removed from {where}" + ("" if whole else f" `{path or '.'}`"))
    return out


def problems(current: dict) -> list[str]:
    """What CI refuses: breaking changes from the released document, unless the major version grew."""
    if not RELEASED.is_file():
        return [f"{RELEASED.relative_to(ROOT)} is missing: run python -m contract --release"]
    released = json.loads(RELEASED.read_text())
    if _major(current) > _major(released):
        return []
    return [f"breaking change without a major version (info.version {current['info']['version']}): {p}"
            for p in breaking(released, current)]
