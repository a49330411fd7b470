"""Starts, health-checks, resets and stops the local stack, all on 127.0.0.1.

Firestore and Pub/Sub are Google's own emulators from the Cloud SDK; Cloud Storage is
gcp-storage-emulator; Cloud Tasks is gcloud-tasks-emulator (own venv); Redis is Debian's
redis-server. The gateway serves every HTTP function of the manifest through functions-framework.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devstack import oidc, service_account

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
TASKS_VENV = ROOT / ".venv-tasks"


@dataclass(frozen=True)
class Ports:
    firestore: int
    pubsub: int
    storage: int
    tasks: int
    redis: int
    gateway: int
    relay: int
    scheduler: int         # Cloud Scheduler driver + the local OIDC certs URL (devstack/scheduler.py)
    twilio_api: int = 0    # a local fake of Twilio's REST API (tests); 0 = the real api.twilio.com
    openai_api: int = 0    # a local fake of OpenAI's API (tests); 0 = OPENAI_BASE_URL or api.openai.com
    graph_api: int = 0     # a local fake of Meta's Graph API (tests); 0 = the real graph.facebook.com


DEV_PORTS = Ports(firestore=8090, pubsub=8681, storage=9023, tasks=9090, redis=6390, gateway=3001, relay=3002,
                  scheduler=9095)
TEST_AI_WINDOW_SECONDS = 5       # the test stack's AI request window (60 s elsewhere)
TEST_PORTS = Ports(firestore=18090, pubsub=18681, storage=19023, tasks=19090, redis=16390, gateway=13001,
                   relay=13002, scheduler=19095, twilio_api=13005, openai_api=13006, graph_api=13007)


def sdk_root() -> Path:
    """The Cloud SDK install whose platform/ folder holds the emulator jars."""
    gcloud = shutil.which("gcloud")
    candidates = [Path(os.environ["CLOUDSDK_ROOT"])] if os.environ.get("CLOUDSDK_ROOT") else []
    if gcloud:
        candidates.append(Path(os.path.realpath(gcloud)).parent.parent)
    candidates += [Path("/usr/lib/google-cloud-sdk"), Path("/google-cloud-sdk")]
    for c in candidates:
        if (c / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar").exists():
            return c
    raise RuntimeError("Google Cloud SDK with the Firestore emulator not found (install google-cloud-sdk "
                       "and its cloud-firestore-emulator and pubsub-emulator components)")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str, up_to: int = 499) -> bool:
    """Whether `url` answers with a status of at most `up_to`."""
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status <= up_to
    except urllib.error.HTTPError as exc:
        return exc.code <= up_to
    except Exception:
        return False


class Stack:
    """One local stack (dev or test): its processes, ports, project and environment."""

    def __init__(self, ports: Ports = DEV_PORTS, project: str = "utalk-local", env_name: str = "local",
                 state_dir: Path | None = None, rules: bool = True, ai_window_seconds: int | None = None):
        self.ports = ports
        # A shorter AI request window (ai/limits.py), so tests see one end without waiting a minute.
        self.ai_window_seconds = ai_window_seconds
        self.project = project
        self.env_name = env_name
        self.state_dir = state_dir or ROOT / ".devstack" / env_name
        self.rules = rules
        self.procs: dict[str, subprocess.Popen] = {}

    # -- environment shared by every process of the stack ------------------------------------
    def env(self) -> dict[str, str]:
        p = self.ports
        gateway = f"http://127.0.0.1:{p.gateway}"
        key_file = str(service_account.ensure(self.state_dir, self.project))
        return {
            "UTALK_ENV": self.env_name,
            "GOOGLE_CLOUD_PROJECT": self.project,
            "GCLOUD_PROJECT": self.project,
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{p.firestore}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{p.pubsub}",
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{p.storage}",
            "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{p.tasks}",
            "UTALK_REDIS_URL": f"redis://127.0.0.1:{p.redis}/0",
            "UTALK_GATEWAY_URL": gateway,
            "UTALK_RELAY_PORT": str(p.relay),
            # google-auth must not probe the GCE metadata server (off-host traffic).
            "METADATA_SERVER_DETECTION": "none",
            "NO_GCE_CHECK": "True",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]),
            # Throwaway key so firebase-admin can sign custom tokens offline (generated once per stack),
            # and media URLs (deployed functions sign through IAM signBlob instead: utalk/media/signing.py).
            "FIREBASE_SERVICE_ACCOUNT": key_file,
            "UTALK_SIGNING_KEY_FILE": key_file,
            # Internal calls are authenticated as in production (docs/security.md, "Internal calls"):
            # the invoker identity, and the local key that stands in for Google's signing (the tasks
            # emulator, the scheduler driver and devstack/pusher.py mint with it) and its certs.
            "UTALK_INVOKER_SERVICE_ACCOUNT": f"utalk-invoker@{self.project}.iam.gserviceaccount.com",
            "UTALK_OIDC_CERTS_URL": f"http://127.0.0.1:{p.scheduler}/oauth2/v1/certs",
            oidc.ENV_VAR: str(oidc.ensure(self.state_dir)),
            # The offset every process of the stack adds to "now" (utalk/clock.py; tests move it).
            "UTALK_CLOCK_FILE": str(self.state_dir / "clock-offset"),
            # The official twilio client is pointed here when set (tests run a fake Twilio on it).
            **({"TWILIO_API_BASE_URL": f"http://127.0.0.1:{p.twilio_api}"} if p.twilio_api else {}),
            # Messenger's Graph API calls go here when set (tests run a fake Graph API on it).
            **({"MESSENGER_GRAPH_BASE_URL": f"http://127.0.0.1:{p.graph_api}", "UTALK_MESSENGER_TIMEOUT_SECONDS": "2"}
               if p.graph_api else {}),
            # The official openai client is pointed at a fake (tests). Workspaces still default to the
            # offline responder here; bot tests opt in with settings.bot.provider = "openai".
            **({"OPENAI_BASE_URL": f"http://127.0.0.1:{p.openai_api}/v1", "OPENAI_API_KEY": "sk-test-local-fake-openai",
                "UTALK_AI_PROVIDER": "offline", "UTALK_AI_TIMEOUT_SECONDS": "2", "UTALK_AI_MAX_RETRIES": "1"}
               if p.openai_api else {}),
            **({"UTALK_AI_WINDOW_SECONDS": str(self.ai_window_seconds)} if self.ai_window_seconds else {}),
            # Tests see a flag change within a second and every usage count at once (utalk/flags.py).
            **({"UTALK_FLAGS_CACHE_SECONDS": "1", "UTALK_FLAGS_FLUSH_SECONDS": "0"} if self.env_name == "test" else {}),
        }

    def apply_env(self) -> None:
        os.environ.update(self.env())

    # -- processes -------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        """Start `name` with the stack's environment plus `env` (a None value unsets a variable)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        logf = open(self.state_dir / f"{name}.log", "ab")
        merged = {**os.environ, **self.env(), **(env or {})}
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={k: v for k, v in merged.items() if v is not None}, start_new_session=True)
        self.procs[name] = proc
        (self.state_dir / f"{name}.pid").write_text(str(proc.pid))
        return proc

    def _wait(self, name: str, ready, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        proc = self.procs.get(name)
        while time.monotonic() < deadline:
            if ready():
                return
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.2)
        log = (self.state_dir / f"{name}.log")
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RuntimeError(f"{name} did not become ready on time; log tail:\n{tail}")

    EMULATORS = ("firestore", "pubsub", "storage", "tasks", "redis", "scheduler")
    OWNER_FILE = "emulators.owner"   # the pid of the process whose Stack started the emulators

    def start_emulators(self) -> None:
        """Start every emulator; on any failure stop what did start, so nothing is left behind.

        Emulators this very process already started (through another Stack of the same state dir:
        the relay tests' fixture, when pytest-xdist gives one worker relay and backend test files)
        are reused: restarting them would pull them from under the relays that fixture runs."""
        if self._emulators_of_this_process():
            return
        try:
            self._start_emulators()
        except BaseException:
            self.stop()
            raise
        (self.state_dir / self.OWNER_FILE).write_text(str(os.getpid()))

    def _emulators_of_this_process(self) -> bool:
        try:
            owner = int((self.state_dir / self.OWNER_FILE).read_text())
        except (OSError, ValueError):
            return False
        return owner == os.getpid() and all(port_open(getattr(self.ports, name)) for name in self.EMULATORS)

    def _start_emulators(self) -> None:
        p, sdk = self.ports, sdk_root()
        self.stop_stale()
        # A port still taken now belongs to someone else: sharing it would be silent and wrong
        # (gRPC servers bind with SO_REUSEPORT, so a second tasks emulator would split the traffic).
        busy = [name for name, port in vars(p).items()
                if name not in ("gateway", "relay", "twilio_api", "openai_api", "graph_api")
                and port and port_open(port)]
        if busy:
            raise RuntimeError(f"ports for {', '.join(busy)} are already in use (another stack running?); "
                               "stop it, or shift test ports with UTALK_TEST_PORT_OFFSET")
        fs_argv = ["java", "-Duser.language=en", "-cp",
                   str(sdk / "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"),
                   "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                   "--host=127.0.0.1", f"--port={p.firestore}"]
        if self.rules:
            fs_argv.append(f"--rules={ROOT / 'firestore.rules'}")
        self._spawn("firestore", fs_argv)
        self._spawn("pubsub", [str(sdk / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"),
                               "--host=127.0.0.1", f"--port={p.pubsub}"])
        self._spawn("storage", [str(VENV / "bin/gcp-storage-emulator"), "start", "--host=127.0.0.1",
                                f"--port={p.storage}", "--in-memory", "--quiet"])
        self._spawn("tasks", [str(TASKS_VENV / "bin/python"), str(ROOT / "devstack/tasks_emulator.py"),
                              str(p.tasks)])
        self._spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(p.redis), "--save", "",
                              "--appendonly", "no"])
        # Tests run jobs on demand: a cron run landing mid-test would change what the test looks at.
        self._spawn("scheduler", [str(VENV / "bin/python"), "-m", "devstack.scheduler", str(p.scheduler)],
                    env={"UTALK_SCHEDULER_PAUSED": "1" if self.env_name == "test" else "0"})
        self._wait("firestore", lambda: http_ok(f"http://127.0.0.1:{p.firestore}/"))
        self._wait("pubsub", lambda: http_ok(f"http://127.0.0.1:{p.pubsub}/"))
        self._wait("storage", lambda: http_ok(f"http://127.0.0.1:{p.storage}/storage/v1/b"))
        self._wait("tasks", lambda: port_open(p.tasks))
        self._wait("redis", lambda: port_open(p.redis))
        self._wait("scheduler", lambda: http_ok(f"http://127.0.0.1:{p.scheduler}/oauth2/v1/certs"))

    def start_gateway(self, workers: int = 2, threads: int = 8, port: int | None = None, name: str = "gateway",
                      extra_env: dict | None = None) -> None:
        """The gateway (every function of the manifest); answering /health means started (a
        misconfigured instance answers it too, with its 503)."""
        port = port or self.ports.gateway
        self._spawn(name, [str(VENV / "bin/gunicorn"), "-w", str(workers), "--threads", str(threads),
                           "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5",
                           # Google's front end takes URLs far longer than gunicorn's 4094-byte request line
                           # (whose 414 is an HTML page no function answers): its maximum.
                           "--limit-request-line", "8190",
                           # gunicorn closes an idle connection after 2 s by default, so a client reusing
                           # one just then saw RemoteDisconnected (a test's pooled connection after 2 s
                           # of setup); Google's front end keeps them far longer.
                           "--keep-alive", "75",
                           "--access-logfile", "-", "devstack.gateway:app"], env=extra_env)
        self._wait(name, lambda: http_ok(f"http://127.0.0.1:{port}/health", up_to=503))

    def start_pusher(self) -> None:
        """Pub/Sub push to the gateway (devstack/pusher.py), once provisioning made the subscriptions."""
        self._spawn("pusher", [str(VENV / "bin/python"), "-m", "devstack.pusher"])

    def spawn_relay(self, port: int | None = None, name: str = "relay", extra_env: dict | None = None,
                    command: list[str] | None = None) -> subprocess.Popen:
        """The relay process (`command`: its start command, "python" being this stack's venv)."""
        return self._spawn(name, command or ["python", "-m", "relay.server"],
                           env={"PYTHONPATH": os.pathsep.join([str(ROOT / "realtime-relay"), str(ROOT / "shared")]),
                                "PATH": os.pathsep.join([str(VENV / "bin"), os.environ.get("PATH", "")]),
                                "PORT": str(port or self.ports.relay), "RELAY_INSTANCE_ID": name, **(extra_env or {})})

    def start_relay(self, port: int | None = None, name: str = "relay", extra_env: dict | None = None,
                    command: list[str] | None = None) -> None:
        port = port or self.ports.relay
        self.spawn_relay(port, name, extra_env, command)
        self._wait(name, lambda: http_ok(f"http://127.0.0.1:{port}/health"))

    def stop_stale(self) -> None:
        """Stop processes a previous run of this stack left behind (their pid files say which)."""
        if not self.state_dir.exists():
            return
        for pidfile in self.state_dir.glob("*.pid"):
            try:
                os.killpg(int(pidfile.read_text()), signal.SIGTERM)
            except (ValueError, ProcessLookupError, PermissionError):
                pass
            pidfile.unlink(missing_ok=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(port_open(x) for x in vars(self.ports).values()):
            time.sleep(0.2)

    def stop(self, *names: str) -> None:
        """Stop the named processes of this stack, or all of them (newest first)."""
        chosen = [(n, p) for n, p in reversed(list(self.procs.items())) if not names or n in names]
        for name, proc in chosen:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, proc in chosen:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            (self.state_dir / f"{name}.pid").unlink(missing_ok=True)
            del self.procs[name]
            if name == "firestore":
                (self.state_dir / self.OWNER_FILE).unlink(missing_ok=True)

    # -- data --------------------------------------------------------------------------------
    def reset_firestore(self) -> None:
        """Delete every document (the emulator's REST reset endpoint)."""
        url = (f"http://127.0.0.1:{self.ports.firestore}/emulator/v1/projects/{self.project}"
               f"/databases/(default)/documents")
        # The emulator answers 409 while a transaction is open; background work of the previous
        # test (a task or push still running) holds one briefly, so retry for a bounded time.
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=60).read()
                return
            except urllib.error.HTTPError as exc:
                if exc.code != 409 or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def test_stack() -> Stack:
    """The test stack; UTALK_TEST_PORT_OFFSET shifts every port so parallel runs never collide.

    Under pytest-xdist each worker (`gw0`, `gw1`, ...) runs a stack of its own, 10 ports further per
    worker: no two stack ports are 10 apart, so workers never collide with each other either."""
    offset = int(os.environ.get("UTALK_TEST_PORT_OFFSET", "0"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        offset += 10 * int(worker[2:])
    ports = Ports(**{k: v + offset for k, v in vars(TEST_PORTS).items()})
    return Stack(ports, project="utalk-test", env_name="test",
                 state_dir=ROOT / ".devstack" / f"test-{offset}", ai_window_seconds=TEST_AI_WINDOW_SECONDS)


if __name__ == "__main__":
    sys.exit("use scripts/dev or scripts/test")
