"""`scripts/deploy`: validate, read the project, plan, and (unless --plan) apply the plan.

Exit codes: 0 done (or nothing to do), 1 a step failed, 2 the manifest or firebase.json is invalid
(nothing was called), 3 done except functions blocked on a secret that has no value yet.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from deploy import plan, relay, rules, spec as spec_module, state as state_module, target, validate
from deploy.execute import Runner
from deploy.gcloud import Gcloud
from deploy.plan import Plan, Wave
from deploy.target import GATEWAY, Target


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/deploy", description=__doc__.splitlines()[0])
    p.add_argument("--project", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--only", default="", help="comma-separated function names (their triggers come along)")
    p.add_argument("--plan", action="store_true", help="print what would change; call nothing that mutates")
    p.add_argument("--public-url", default="", help="the API's public base URL (default: the gateway's host)")
    p.add_argument("--cors-origins", default="",
                   help="comma-separated browser origins of the agent frontend (UTALK_CORS_ORIGINS; default none)")
    p.add_argument("--workers", type=int, default=8, help="gcloud calls at once (default 8)")
    p.add_argument("--function-workers", type=int, default=0,
                   help="function deploys at once (default: half the functions, so the builds take two rounds)")
    p.add_argument("--manifest", default=None, help=argparse.SUPPRESS)   # tests: a module shaped like the manifest
    return p.parse_args(argv)


def _public_url(args, state) -> str:
    if args.public_url:
        return args.public_url.rstrip("/")
    host = (state.gateway or {}).get("defaultHostname")
    return f"https://{host}" if host else ""


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    spec = spec_module.load(args.manifest)
    only = {n for n in args.only.split(",") if n} or None
    errors = rules.check_config() + relay.check()
    try:
        validate.check(spec)
    except validate.ManifestError as exc:
        errors = exc.errors + errors
    origins, bad = target.origins(args.cors_origins)
    errors += [f"--cors-origins: {o!r} is not an origin (scheme://host[:port], https outside localhost)" for o in bad]
    unknown = (only or set()) - {f.name for f in spec.functions}
    if unknown:
        errors.append(f"--only names no manifest row: {', '.join(sorted(unknown))}")
    if errors:
        print("refusing to deploy; nothing was called:", file=out)
        for e in errors:
            print(f"  {e}", file=out)
        return 2

    gcloud = Gcloud(args.project)
    started = time.monotonic()
    state = state_module.read(gcloud, Target(args.project, args.region), spec.secrets, args.workers)
    read_seconds = time.monotonic() - started
    tgt = Target(args.project, args.region, state.project_number, _public_url(args, state), origins)
    deploy_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    infra, unchanged = plan.infrastructure(spec, tgt, state)
    if only:   # a partial deploy touches the named functions and their triggers only
        infra = [Wave(w.title, []) for w in infra]
    else:
        infra[2].steps.extend(rules.steps(tgt, state))

    planned_tgt = tgt if tgt.public_url else dataclasses.replace(tgt, public_url="https://<gateway host>")
    fn_waves, same, blocked = plan.functions_and_triggers(spec, planned_tgt, state, only, deploy_id)
    full = Plan(infra + fn_waves, {**unchanged, **same}, blocked, plan.unmanaged(spec, state),
                notes=[relay.note()] if not only else [])
    print(full.render(tgt), file=out)
    print(f"(read the project in {read_seconds:.1f}s with {len(gcloud.calls)} gcloud calls)", file=out)
    if args.plan or not full.steps:
        return 3 if blocked and not args.plan else 0

    runner = Runner(gcloud, args.workers, out)
    for wave in infra:
        if not runner.run(wave):
            return 1
    if not tgt.public_url and not only:
        gateway = gcloud.json(["api-gateway", "gateways", "describe", GATEWAY, "--location", args.region])
        tgt = dataclasses.replace(tgt, public_url=f"https://{gateway['defaultHostname']}")
        fn_waves, _, blocked = plan.functions_and_triggers(spec, tgt, state, only, deploy_id)
    builds = args.function_workers or max(args.workers, -(-len(spec.functions) // 2))
    for wave, workers in zip(fn_waves, (builds, args.workers)):
        if not runner.run(wave, workers):
            return 1
    total = time.monotonic() - started
    print(f"deployed {len(runner.outcomes)} step(s) in {total:.1f}s ({len(gcloud.calls)} gcloud calls); "
          f"deploy id {deploy_id}", file=out)
    for b in blocked:
        print(f"BLOCKED {b}", file=out)
    return 3 if blocked else 0


if __name__ == "__main__":
    sys.exit(main())
