"""Cold-start import cost of every function: what loading its entry point alone costs.

Each function is resolved in a fresh interpreter (functions-framework itself already imported, as
in the runtime), three times; the table shows the fastest run and how many modules it pulled in.
Run: .venv/bin/python bench/import_times.py [name ...]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))

from utalk import manifest  # noqa: E402

PROBE = r"""
import json, sys, time
import functions_framework  # loaded by the runtime before any user code
before = set(sys.modules)
t = time.perf_counter()
sys.path.insert(0, {functions!r})
import main
getattr(main, {name!r})
elapsed = (time.perf_counter() - t) * 1000
new = set(sys.modules) - before
print(json.dumps({{"ms": elapsed, "modules": len(new),
                  "heavy": sorted({{m.split('.')[0] for m in new}} & {{'google', 'twilio', 'openai', 'firebase_admin', 'argon2', 'pydantic', 'jwt'}})}}))
"""


def measure(name: str, runs: int = 3) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "shared"), "UTALK_ENV": "local"}
    best = None
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE.format(functions=str(ROOT / "functions"), name=name)],
                             capture_output=True, text=True, env=env, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        if best is None or result["ms"] < best["ms"]:
            best = result
    return best


def main() -> None:
    names = sys.argv[1:] or [f.name for f in manifest.FUNCTIONS]
    print(f"{'function':28} {'import ms':>10} {'modules':>8}  heavy packages loaded")
    for name in names:
        r = measure(name)
        print(f"{name:28} {r['ms']:10.1f} {r['modules']:8d}  {', '.join(r['heavy'])}")


if __name__ == "__main__":
    main()
