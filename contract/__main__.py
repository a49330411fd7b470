"""`python -m contract [--write | --check | --release]`: print, regenerate, check or release the contract."""
from __future__ import annotations

import json
import sys

from contract import documents


def main(argv: list[str]) -> int:
    if "--write" in argv:
        for path, doc in documents.generated().items():
            path.write_text(documents.dump(doc))
            print(f"wrote {path.relative_to(documents.ROOT)}")
        return 0
    if "--release" in argv:
        print(f"wrote {documents.release().relative_to(documents.ROOT)}")
        return 0
    if "--check" in argv:
        problems = documents.problems()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    # Both documents, by their path in the repository (JSON keys must be strings).
    json.dump({str(path.relative_to(documents.ROOT)): doc for path, doc in documents.generated().items()},
              sys.stdout, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
