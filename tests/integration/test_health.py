"""Health endpoints through the gateway."""


def test_health(api):
    r = api.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Request-Id"]


def test_health_detailed_checks_every_dependency(api):
    r = api.get("/health/detailed")
    assert r.status_code == 200, r.text
    checks = {c["name"]: c for c in r.json()["checks"]}
    assert set(checks) == {"firestore", "pubsub", "storage", "tasks"}
    assert all(c["status"] == "ok" and c["latencyMs"] >= 0 for c in checks.values())


def test_health_services_reports_local_modes(api):
    services = api.get("/health/services").json()["services"]
    assert services["firestore"] == "emulator"
    assert services["whatsapp"] == "sandbox"
    assert services["ai"] == "offline"
