"""Benchmark (not a test): the media upload function against a direct upload with the official client.

Starts a bench copy of the emulators, then for 1, 10 and 30 MB files:
  utalk  : POST /api/v1/media (multipart, one file) to our `media_upload` function under gunicorn,
           1 worker x 4 threads, as deployed (its own functions-framework app, no gateway): checks,
           type sniffing, the file streamed to the storage emulator in 4 MiB chunks, record + quota;
  direct : the same bytes uploaded by google-cloud-storage (`upload_from_string`, one request) to
           the same emulator from this process: the floor for moving those bytes into the bucket;
  chunked: the official client's own streaming writer (`blob.open("wb")`) in the function's chunk
           size: the floor for an upload that never holds the whole file.
Peak memory is the function's worker, a fresh one per size warmed by a small upload: its peak RSS
(VmHWM, reset through /proc/<pid>/clear_refs) above its RSS before the size's uploads. Firestore operations per upload are counted on
the client's RPCs with the same function served in-process.

    .venv/bin/python bench/media_bench.py                    # 1, 10, 30 MB; 3 uploads each
    .venv/bin/python bench/media_bench.py --sizes 1,10 --reps 2
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from devstack.stack import TEST_PORTS, VENV, Ports, Stack, port_open  # noqa: E402

MB = 1024 * 1024
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def payload(size: int) -> bytes:
    return PNG_HEAD + os.urandom(size - len(PNG_HEAD))


def setup() -> tuple[str, str]:
    """A workspace and a conversation to upload into."""
    from devstack.seed import create_workspace
    from utalk import clients

    ws = f"ws_bench{uuid.uuid4().hex[:6]}"
    create_workspace(ws, "tenant_bench", "Bench")
    conv = "conv_+14155238886_+5215512345678"
    clients.firestore().collection("workspaces").document(ws).collection("conversations").document(conv).set(
        {"id": conv, "workspaceId": ws, "channel": "whatsapp", "status": "open", "assignedAgent": None})
    return ws, conv


def token(ws: str) -> str:
    """An admin's access token for a new user each time: the 10 files/min limit is per user."""
    from utalk.auth.tokens import issue_access_token

    return issue_access_token(f"bench-{uuid.uuid4().hex[:8]}", "admin", ws, "tenant_bench")[0]


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def post(port: int, ws: str, conv: str, data: bytes, name: str = "f.png") -> float:
    import requests

    started = time.perf_counter()
    r = requests.post(f"http://127.0.0.1:{port}/api/v1/media", params={"conversationId": conv},
                      files={"file": (name, data, "image/png")}, headers={"Authorization": f"Bearer {token(ws)}"},
                      timeout=300)
    elapsed = time.perf_counter() - started
    assert r.status_code == 201, r.text
    return elapsed


def direct(data: bytes, chunked: bool = False) -> float:
    from utalk import clients
    from utalk.config import settings
    from utalk.services.media_upload import CHUNK_BYTES

    blob = clients.storage().bucket(settings().bucket).blob(f"bench/direct-{uuid.uuid4().hex}")
    started = time.perf_counter()
    if chunked:
        with blob.open("wb", chunk_size=CHUNK_BYTES, content_type="image/png", ignore_flush=True) as writer:
            for i in range(0, len(data), 256 * 1024):
                writer.write(data[i:i + 256 * 1024])
    else:
        blob.upload_from_string(data, content_type="image/png")
    return time.perf_counter() - started


def count_operations(ws: str, conv: str, uploads: int = 5) -> dict:
    """Serve media_upload in-process with Firestore RPCs and Cloud Storage requests counted."""
    import logging

    from functions_framework import create_app

    from utalk import clients, rpc

    logging.getLogger("utalk").setLevel(logging.WARNING)
    counts = {"reads": 0, "writes": 0, "queries": 0, "aggregations": 0, "transactions": 0, "gcs": 0}
    api = clients.firestore()._firestore_api

    def wrap(name, fn):
        def counted(*args, **kwargs):
            request = kwargs.get("request") or (args[0] if args else None)
            if name == "batch_get_documents":
                counts["reads"] += len(getattr(request, "documents", None) or request.get("documents", []))
            elif name == "commit":
                counts["writes"] += len(getattr(request, "writes", None) or request.get("writes", []))
            elif name == "run_query":
                counts["queries"] += 1
            elif name == "run_aggregation_query":
                counts["aggregations"] += 1
            elif name == "begin_transaction":
                counts["transactions"] += 1
            return fn(*args, **kwargs)
        return counted

    for name in ("batch_get_documents", "commit", "run_query", "run_aggregation_query", "begin_transaction"):
        setattr(api, name, wrap(name, getattr(api, name)))
    raw_call = rpc.Method.call

    def counted_raw(self, request, metadata, timeout=30.0):
        if self.path.endswith("/Commit"):
            counts["writes"] += len(request.writes)
        return raw_call(self, request, metadata, timeout)
    rpc.Method.call = counted_raw
    http = clients.storage()._http
    http_request = http.request

    def counted_http(*args, **kwargs):
        counts["gcs"] += 1
        return http_request(*args, **kwargs)
    http.request = counted_http

    app = create_app("media_upload", str(ROOT / "functions" / "main.py")).test_client()
    sizes = {"small (20 KB, one request)": 20 * 1024, "large (10 MB, resumable)": 10 * MB}
    out = {}
    for label, size in sizes.items():
        data = payload(size)
        before = dict(counts)
        for _ in range(uploads):
            resp = app.post("/api/v1/media", query_string={"conversationId": conv},
                            headers={"Authorization": f"Bearer {token(ws)}"},
                            data={"file": (io.BytesIO(data), "f.png", "image/png")},
                            content_type="multipart/form-data")
            assert resp.status_code == 201, resp.data
        out[label] = {k: (counts[k] - before[k]) / uploads for k in counts}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,10,30", help="file sizes in MB (at most 31: the route takes 32 MB)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--port-offset", type=int, default=int(os.environ.get("UTALK_BENCH_PORT_OFFSET", "790")))
    args = ap.parse_args()

    ports = Ports(**{k: v + args.port_offset for k, v in vars(TEST_PORTS).items()})
    stack = Stack(ports, project="utalk-bench", env_name="test", rules=False,
                  state_dir=ROOT / ".devstack" / f"bench-{args.port_offset}")
    stack.apply_env()
    if any(port_open(p) for p in (ports.firestore, ports.pubsub, ports.storage, ports.gateway)):
        sys.exit("bench ports are in use; pick another --port-offset")
    try:
        stack.start_emulators()
        from devstack.provision import provision
        provision()
        ws, conv = setup()
        fn_port = ports.gateway
        direct(payload(64 * 1024))  # warm this process's client
        rows = []
        for size_mb in [int(s) for s in args.sizes.split(",")]:
            # A fresh worker per size, warmed with a small upload: its peak RSS over that is this size's.
            proc = stack._spawn("media_upload", [str(VENV / "bin/gunicorn"), "-w", "1", "--threads", "4", "-b",
                                                 f"127.0.0.1:{fn_port}", "devstack.function_app:app"],
                                env={"UTALK_FUNCTION": "media_upload", "PYTHONDONTWRITEBYTECODE": "1"})
            stack._wait("media_upload", lambda: port_open(fn_port))
            post(fn_port, ws, conv, payload(64 * 1024))  # imports, clients, first connections
            worker = worker_pid(proc.pid)
            data = payload(size_mb * MB)
            Path(f"/proc/{worker}/clear_refs").write_text("5")  # VmHWM := current RSS
            base = rss_kb(worker, "VmRSS")
            ours, floor, chunked = [], [], []
            for _ in range(args.reps):  # interleaved: the machine's speed drifts
                ours.append(post(fn_port, ws, conv, data))
                floor.append(direct(data))
                chunked.append(direct(data, chunked=True))
            peak = rss_kb(worker, "VmHWM") - base
            rows.append((size_mb, min(ours), min(floor), min(chunked), peak))
            stack.stop("media_upload")
        ops = count_operations(ws, conv)

        print(f"\nMedia upload: our function (gunicorn 1 worker x 4 threads) vs a direct upload with the official "
              f"client, storage emulator, best of {args.reps}, {os.cpu_count()} cores shared")
        print(f"{'size':>6} {'utalk MB/s':>11} {'direct MB/s':>12} {'ratio':>6} {'chunked MB/s':>13} {'ratio':>6} "
              f"{'utalk peak RSS over base':>25}")
        for size_mb, ours, floor, chunked, peak in rows:
            print(f"{size_mb:>4}MB {size_mb / ours:11.1f} {size_mb / floor:12.1f} {floor / ours:6.2f}x "
                  f"{size_mb / chunked:13.1f} {chunked / ours:6.2f}x {peak / 1024:22.1f} MB")
        print("\nPer upload (one file, counted in-process):")
        for label, o in ops.items():
            print(f"  {label:<28} Firestore reads {o['reads']:.1f}  writes {o['writes']:.1f}  queries "
                  f"{o['queries']:.1f}  aggregations {o['aggregations']:.1f}  transactions {o['transactions']:.1f}"
                  f"   Cloud Storage requests {o['gcs']:.1f}")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
