"""Each function's source closure, the directory gcloud uploads for it, and its content hash.

The closure is what the function can import: `functions/main.py`, its handler module, and every
module of `functions/` and `shared/utalk/` reachable through an import statement anywhere in
those files (lazy imports inside functions included) or named by a registry row (REGISTRIES),
plus `requirements.txt` and the data files a module reads (DATA_FILES). The deployed source is
exactly that closure (utalk vendored next to main.py), so the hash describes what runs.

The hash (recorded as the function's `utalk-hash` label) covers those files and the function's
deploy settings. `manifest.py` is counted by its code and by every row minus the deploy-only
settings (DEPLOY_ONLY): runtime code never reads another row's memory or instance counts, so
tuning one row redeploys that function alone while a new route or queue redeploys every function
that imports the manifest.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import shutil
from functools import lru_cache
from pathlib import Path

from utalk import channels, manifest

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
SHARED = ROOT / "shared"
REQUIREMENTS = ROOT / "requirements.txt"
MANIFEST = SHARED / "utalk" / "manifest.py"
DEPLOY_ONLY = frozenset({"memory", "cpu", "concurrency", "min_instances", "max_instances", "identity"})
# Registries that import their rows by name (importlib): no import statement names those modules.
REGISTRIES = {
    SHARED / "utalk" / "channels" / "__init__.py":
        lambda: {f"utalk.channels.{row.split(':')[0]}" for row in channels.ADAPTERS.values()},
}

# Files a handler module reads at runtime (not imported): staged under their own name next to main.py.
DATA_FILES = {FUNCTIONS / "api_contract.py": (ROOT / "docs" / "openapi.json",)}


def _module_file(dotted: str) -> Path | None:
    """The file of a module of ours (`utalk.x.y` or a `functions/` module), or None if it is not ours."""
    parts = dotted.split(".")
    base = SHARED if parts[0] == "utalk" else FUNCTIONS
    if base is FUNCTIONS and len(parts) != 1:
        return None
    for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _package_of(path: Path) -> list[str]:
    """The package a file's relative imports start from (a package's __init__ is in itself)."""
    if not path.is_relative_to(SHARED):
        return []
    return list(path.relative_to(SHARED).with_suffix("").parts[:-1])


def _imports(path: Path) -> set[str]:
    """Every module an import statement in the file names (and each package on the way)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(path)
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


@lru_cache(maxsize=None)
def closure(handler_module: str) -> tuple[Path, ...]:
    """The files a function whose handler lives in `functions/<handler_module>.py` can import."""
    todo = [FUNCTIONS / "main.py", FUNCTIONS / f"{handler_module}.py"]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        registry = REGISTRIES.get(path, set)
        for name in _imports(path) | registry():
            found = _module_file(name)
            if found and found not in seen:
                todo.append(found)
    data = tuple(d for path in sorted(seen) for d in DATA_FILES.get(path, ()))
    return tuple(sorted(seen)) + data + (REQUIREMENTS,)


def staged_name(path: Path) -> str:
    """Where a closure file sits in the uploaded source: utalk/ vendored next to main.py."""
    if path.is_relative_to(FUNCTIONS):
        return path.relative_to(FUNCTIONS).as_posix()
    if path.is_relative_to(SHARED):
        return path.relative_to(SHARED).as_posix()
    return path.name


def stage(fn: manifest.Function, into: Path) -> Path:
    """Copy the function's closure into `into` (the directory `gcloud functions deploy --source` zips)."""
    for path in closure(fn.handler.split(":")[0]):
        dest = into / staged_name(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    return into


@lru_cache(maxsize=1)
def _manifest_digest() -> str:
    """manifest.py as runtime code sees it: its code, and every row without the deploy-only settings."""
    tree = ast.parse(MANIFEST.read_text())
    tree.body = [n for n in tree.body if not (isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "FUNCTIONS" for t in n.targets))]
    rows = [{k: v for k, v in dataclasses.asdict(f).items() if k not in DEPLOY_ONLY} for f in manifest.FUNCTIONS]
    return hashlib.sha256((ast.unparse(tree) + json.dumps(rows, sort_keys=True)).encode()).hexdigest()


def source_hash(fn: manifest.Function, settings: list[str]) -> str:
    """16 hex digits over the function's closure and its deploy settings (argv without the label)."""
    digest = hashlib.sha256()
    for path in closure(fn.handler.split(":")[0]):
        digest.update(staged_name(path).encode() + b"\0")
        digest.update(_manifest_digest().encode() if path == MANIFEST else path.read_bytes())
        digest.update(b"\0")
    digest.update(json.dumps(settings).encode())
    return digest.hexdigest()[:16]
