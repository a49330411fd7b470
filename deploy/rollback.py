"""`scripts/rollback`: move each function's traffic back to the revision before the one it serves.

A gen2 function is a Cloud Run service; every deploy made a revision. By default the functions
rolled back are those the most recent deploy touched (their `utalk-deploy` label is the newest);
`--only` names others. Per function: one revisions list and one `run services update-traffic`,
all functions in parallel.
"""
from __future__ import annotations

import argparse
import sys
import time

from deploy import target
from deploy.gcloud import Gcloud, GcloudError, parallel


def _generation(revision: dict) -> int:
    labels = revision["metadata"].get("labels", {})
    return int(labels.get("serving.knative.dev/configurationGeneration", "0"))


def previous_revision(revisions: list[dict], serving: str) -> str | None:
    """The newest revision older than the one serving (None if it is the first)."""
    ordered = sorted(revisions, key=_generation)
    names = [r["metadata"]["name"] for r in ordered]
    if serving not in names:
        return names[-2] if len(names) > 1 else None
    index = names.index(serving)
    return names[index - 1] if index > 0 else None


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    p = argparse.ArgumentParser(prog="scripts/rollback", description=__doc__.splitlines()[0])
    p.add_argument("--project", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--only", default="", help="comma-separated function names (default: the last deploy's)")
    p.add_argument("--plan", action="store_true", help="print the moves; change nothing")
    p.add_argument("--workers", type=int, default=8)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    gcloud = Gcloud(args.project)
    functions = {f["name"].rsplit("/", 1)[-1]: f for f in gcloud.json(["functions", "list", "--regions", args.region])}
    only = {n for n in args.only.split(",") if n}
    if only:
        unknown = only - set(functions)
        if unknown:
            print(f"no such function: {', '.join(sorted(unknown))}", file=out)
            return 2
        chosen = sorted(only)
    else:
        last = max((f.get("labels", {}).get("utalk-deploy", "") for f in functions.values()), default="")
        chosen = sorted(n for n, f in functions.items() if last and f.get("labels", {}).get("utalk-deploy") == last)
        print(f"rolling back the functions of deploy {last or '(none)'}", file=out)

    def move(name: str) -> tuple[str, str, str | None, str | None]:
        fn = functions[name]
        service = fn.get("serviceConfig", {}).get("service", "").rsplit("/", 1)[-1] or target.service_name(name)
        serving = fn.get("serviceConfig", {}).get("revision", "")
        revisions = gcloud.json(["run", "revisions", "list", "--service", service, "--region", args.region])
        back = previous_revision(revisions, serving)
        if back is None or args.plan:
            return name, serving, back, None
        try:
            gcloud.run(["run", "services", "update-traffic", service, "--region", args.region,
                        "--to-revisions", f"{back}=100"])
        except GcloudError as exc:
            return name, serving, back, str(exc)
        return name, serving, back, None

    failed = False
    for name, serving, back, error in parallel(move, chosen, args.workers):
        if back is None:
            print(f"  {name}: {serving} is its first revision; nothing to roll back to", file=out)
        elif error:
            failed = True
            print(f"  {name}: FAILED moving {serving} -> {back}: {error}", file=out)
        else:
            print(f"  {name}: {serving} -> {back}{' (plan)' if args.plan else ''}", file=out)
    print(f"{'planned' if args.plan else 'rolled back'} {len(chosen)} function(s) in "
          f"{time.monotonic() - started:.1f}s ({len(gcloud.calls)} gcloud calls)", file=out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
