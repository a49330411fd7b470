"""Platform operator actions, run with the platform's server credentials (never a tenant's API):

    scripts/ops transfer-route whatsapp:+14155238886 --to-workspace ws_b --reason "ticket 4711"
    scripts/ops rewrap-credentials [--dry-run]
    scripts/ops backfill-name-keys [--dry-run]

`transfer-route` moves a number's route, with its channel and credentials, to another workspace
(services/channels.transfer_route); `rewrap-credentials` wraps every channel's sealed data key
with the current platform key after UTALK_CREDENTIALS_KEY was rotated; `backfill-name-keys` gives
conversations stored before `customer.nameKey` existed their folded name for the lookup by name
(services/conversations.backfill_name_keys). Every run is logged as one
structured line (action, who ran it, why, and what changed) on stdout, which Cloud Logging keeps
when run as a Cloud Run job; the exit status says whether it worked.
"""
from __future__ import annotations

import argparse
import getpass
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
    args = ap.parse_args(argv)

    from utalk.channels.sealing import Unsealable
    from utalk.config import ConfigError
    from utalk.services import channels

    context = {"action": args.action, "operator": getpass.getuser()}
    try:
        if args.action == "transfer-route":
            context.update(reason=args.reason)
            result = channels.transfer_route(args.route, args.to_workspace)
        elif args.action == "backfill-name-keys":
            from utalk.services.conversations import backfill_name_keys

            result = backfill_name_keys(dry_run=args.dry_run)
        else:
            result = channels.rewrap_credentials(dry_run=args.dry_run)
    except (errors.ApiError, ValueError, Unsealable, ConfigError) as exc:
        log.error("%s refused: %s", args.action, exc, extra={**context, "outcome": "refused"})
        return 1
    log.info("%s done", args.action, extra={**context, "outcome": "done", **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
