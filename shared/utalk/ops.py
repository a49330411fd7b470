"""Platform operator actions, run with the platform's server credentials (never a tenant's API):

    scripts/ops transfer-route whatsapp:+14155238886 --to-workspace ws_b --reason "ticket 4711"
    scripts/ops rewrap-credentials [--dry-run]
    scripts/ops backfill-name-keys [--dry-run]
    scripts/ops flag-set analytics.export_agent_names --percent 10 --reason "rollout, ticket 12"
    scripts/ops flag-set analytics.export_agent_names --kill --reason "incident 88"
    scripts/ops flag-usage analytics.export_agent_names [--days 7]

`transfer-route` moves a number's route, with its channel and credentials, to another workspace
(services/channels.transfer_route); `rewrap-credentials` wraps every channel's sealed data key
with the current platform key after UTALK_CREDENTIALS_KEY was rotated; `backfill-name-keys` gives
conversations stored before `customer.nameKey` existed their folded name for the lookup by name
(services/conversations.backfill_name_keys). `flag-set` creates or changes a feature flag's
platform definition (rollout percent, kill switch, whether workspaces may override it, a tenant's
override) and `flag-usage` prints its evaluations and uses per day (services/flags.py;
docs/feature-flags.md). Every run is logged as one
structured line (action, who ran it, why, and what changed) on stdout, which Cloud Logging keeps
when run as a Cloud Run job; the exit status says whether it worked.
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys

from utalk import errors, logs

log = logs.get("ops")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/ops", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="action", required=True)
    transfer = sub.add_parser("transfer-route", help="move a route (and its channel) to another workspace")
    transfer.add_argument("route", help="the route key, e.g. whatsapp:+14155238886")
    transfer.add_argument("--to-workspace", required=True)
    transfer.add_argument("--reason", required=True, help="why (a ticket): it is logged with the change")
    rewrap = sub.add_parser("rewrap-credentials", help="re-wrap sealed credentials with the current platform key")
    rewrap.add_argument("--dry-run", action="store_true")
    names = sub.add_parser("backfill-name-keys", help="give older conversations their folded customer name")
    names.add_argument("--dry-run", action="store_true")
    flag = sub.add_parser("flag-set", help="create or change a feature flag's platform definition")
    flag.add_argument("key", help="the flag key, e.g. analytics.export_agent_names")
    flag.add_argument("--reason", required=True, help="why (a ticket): it is logged with the change")
    flag.add_argument("--description")
    flag.add_argument("--percent", type=int, help="rollout: workspaces in 0..100 (stable per workspace)")
    switch = flag.add_mutually_exclusive_group()
    switch.add_argument("--kill", dest="enabled", action="store_const", const=False,
                        help="off everywhere at once (within the flags cache TTL), overrides included")
    switch.add_argument("--enable", dest="enabled", action="store_const", const=True, help="undo --kill")
    overridable = flag.add_mutually_exclusive_group()
    overridable.add_argument("--overridable", dest="overridable", action="store_const", const=True,
                             help="workspace admins may turn it on or off for their workspace")
    overridable.add_argument("--not-overridable", dest="overridable", action="store_const", const=False)
    flag.add_argument("--tenant", help="a tenant id whose workspaces get --tenant-state (or --clear-tenant)")
    flag.add_argument("--tenant-state", choices=("on", "off"))
    flag.add_argument("--clear-tenant", action="store_true")
    usage = sub.add_parser("flag-usage", help="a feature flag's evaluations on/off and uses per day")
    usage.add_argument("key")
    usage.add_argument("--days", type=int, default=7)
    args = ap.parse_args(argv)
    if args.action == "flag-set" and args.tenant and not (args.tenant_state or args.clear_tenant):
        ap.error("--tenant needs --tenant-state on|off or --clear-tenant")

    from utalk.channels.sealing import Unsealable
    from utalk.config import ConfigError
    from utalk.services import channels, flags

    context = {"action": args.action, "operator": getpass.getuser()}
    try:
        if args.action == "transfer-route":
            context.update(reason=args.reason)
            result = channels.transfer_route(args.route, args.to_workspace)
        elif args.action == "backfill-name-keys":
            from utalk.services.conversations import backfill_name_keys

            result = backfill_name_keys(dry_run=args.dry_run)
        elif args.action == "flag-set":
            context.update(reason=args.reason)
            result = flags.define(args.key, description=args.description, percent=args.percent,
                                  enabled=args.enabled, overridable=args.overridable, tenant=args.tenant,
                                  tenant_state=None if args.tenant_state is None else args.tenant_state == "on",
                                  clear_tenant=args.clear_tenant, operator=context["operator"])
        elif args.action == "flag-usage":
            result = flags.usage(args.key, args.days)
            print(json.dumps(result), flush=True)   # the report itself, one line
        else:
            result = channels.rewrap_credentials(dry_run=args.dry_run)
    except (errors.ApiError, ValueError, Unsealable, ConfigError) as exc:
        log.error("%s refused: %s", args.action, exc, extra={**context, "outcome": "refused"})
        return 1
    log.info("%s done", args.action, extra={**context, "outcome": "done", **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
