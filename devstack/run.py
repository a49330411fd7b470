"""Runs the whole backend locally: emulators, provisioning, seed, gateway (and relay), until Ctrl-C."""
from __future__ import annotations

import signal
import sys
import time

from devstack.stack import Stack


def main() -> int:
    stack = Stack()
    stack.apply_env()
    from devstack.provision import provision
    from devstack.seed import seed
    from utalk.config import settings

    print("starting emulators (Firestore, Pub/Sub, Storage, Tasks, Redis)...", flush=True)
    stack.start_emulators()
    try:
        provision()
        p = stack.ports
        creds = seed((f"http://127.0.0.1:{p.gateway}", f"http://localhost:{p.gateway}"))
        stack.start_gateway()
        stack.start_pusher()
        stack.start_relay()
        print(f"""
UTalk is running locally (logs in {stack.state_dir}):
  API gateway    http://127.0.0.1:{p.gateway}   (try: curl http://127.0.0.1:{p.gateway}/health/detailed)
  Socket.IO      http://127.0.0.1:{p.relay}
  Report page    http://127.0.0.1:{p.gateway}/report/   (sign in as the admin below; history: .venv/bin/python -m devstack.history)
  Firestore      127.0.0.1:{p.firestore}   Pub/Sub 127.0.0.1:{p.pubsub}   Storage 127.0.0.1:{p.storage}
  Cloud Tasks    127.0.0.1:{p.tasks}   Redis 127.0.0.1:{p.redis}
  Scheduler      http://127.0.0.1:{p.scheduler}/v1/projects/{stack.project}/locations/{settings().region}/jobs
Demo workspace {creds['workspaceId']} (tenant {creds['tenantId']}); admin login:
  email    {creds['email']}
  password {creds['password']}
WhatsApp number {creds['channel']['number']} ({creds['channel']['provider']}); play a customer with:
  .venv/bin/python -m devstack.simulate "hola, necesito ayuda"
Facebook Page {creds['messenger']['pageId']} ({creds['messenger']['provider']}); play a Messenger customer with:
  .venv/bin/python -m devstack.simulate --channel messenger "hola"
Web chat {creds['webChat']['channelKey']}; the demo shop page embedding its widget:
  http://127.0.0.1:{p.gateway}/demo/shop.html?channel={creds['webChat']['channelKey']}
Ctrl-C stops everything.""", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(proc.poll() is None for proc in stack.procs.values()):
            time.sleep(1)
        dead = [name for name, proc in stack.procs.items() if proc.poll() is not None]
        print(f"stopped: {', '.join(dead)} exited; see logs in {stack.state_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
