"""Health endpoints: liveness, each dependency with its latency, and which service modes are active."""
from __future__ import annotations

import os
import time

from utalk import clients, http
from utalk.config import settings


# The answers' models are named, not imported: liveness builds no pydantic model at cold start.
@http.endpoint("health", auth=False, response="utalk.models.health:Health")
def health(call: http.Call):
    return {"status": "ok", "env": settings().env}


def _check(name: str, probe) -> dict:
    started = time.perf_counter()
    try:
        probe()
        status, error = "ok", None
    except Exception as exc:  # a failed dependency is reported, not raised
        status, error = "error", f"{type(exc).__name__}: {str(exc)[:200]}"
    result = {"name": name, "status": status, "latencyMs": round((time.perf_counter() - started) * 1000, 1)}
    if error:
        result["error"] = error
    return result


def _probes():
    cfg = settings()
    return {
        "firestore": lambda: clients.firestore().collection("_health").document("probe").get(timeout=5),
        "pubsub": lambda: clients.publisher().get_topic(
            topic=clients.publisher().topic_path(cfg.project_id, "realtime-events"), timeout=5),
        "storage": lambda: clients.storage().bucket(cfg.bucket).exists(timeout=5),
        "tasks": lambda: clients.tasks().list_queues(
            parent=f"projects/{cfg.project_id}/locations/{cfg.region}", timeout=5),
    }


@http.endpoint("health_detailed", auth=False, response={200: "utalk.models.health:HealthDetailed",
                                                           503: "utalk.models.health:HealthDetailed"})
def health_detailed(call: http.Call):
    checks = [_check(name, probe) for name, probe in _probes().items()]
    healthy = all(c["status"] == "ok" for c in checks)
    return {"status": "ok" if healthy else "degraded", "checks": checks}, 200 if healthy else 503


@http.endpoint("health_services", auth=False, response="utalk.models.health:HealthServices")
def health_services(call: http.Call):
    """Which implementation each external service uses here (live provider or local stand-in)."""
    from utalk.ai import default_provider_name

    env = os.environ
    return {"services": {
        "firestore": "emulator" if env.get("FIRESTORE_EMULATOR_HOST") else "cloud",
        "pubsub": "emulator" if env.get("PUBSUB_EMULATOR_HOST") else "cloud",
        "storage": "emulator" if env.get("STORAGE_EMULATOR_HOST") else "cloud",
        "tasks": "emulator" if env.get("CLOUD_TASKS_EMULATOR_HOST") else "cloud",
        "whatsapp": "twilio" if env.get("TWILIO_ACCOUNT_SID") else "sandbox",
        "ai": default_provider_name(),
    }}
