"""Scheduled jobs: the stack's Cloud Scheduler driver holds one job per manifest schedule and calls
it as Cloud Scheduler does; the waiting-queue sweep through it and through its own URL, paged
through Cloud Tasks continuations, idempotent per time slot."""
from __future__ import annotations

from datetime import datetime, timezone

import requests

from bot_support import escalations
from helpers import call_internal
from http_support import Endpoint
from internal_support import assigned, waiting_escalation
from messaging_support import db, wait_for

from devstack.scheduler import Driver, Job
from utalk import manifest
from utalk.config import settings

SCHEDULED = [fn for fn in manifest.FUNCTIONS if fn.schedule]


def scheduler_url(stack, path: str = "") -> str:
    cfg = settings()
    return f"http://127.0.0.1:{stack.ports.scheduler}/v1/projects/{cfg.project_id}/locations/{cfg.region}/jobs{path}"


def test_the_driver_holds_every_scheduled_function_as_deploy_creates_it(stack):
    jobs = {j["name"].rsplit("/", 1)[-1]: j for j in requests.get(scheduler_url(stack), timeout=10).json()["jobs"]}
    assert set(jobs) == {fn.name for fn in SCHEDULED}
    for fn in SCHEDULED:
        job = jobs[fn.name]
        url = f"{settings().functions_base_url}/{fn.name}"
        assert job["schedule"] == fn.schedule and job["timeZone"] == fn.time_zone
        assert job["httpTarget"] == {"uri": url, "httpMethod": "POST", "oidcToken": {
            "serviceAccountEmail": settings().invoker_service_account, "audience": url}}
        assert job["state"] == "PAUSED"      # the test stack runs jobs on demand only


def test_run_job_through_the_driver_assigns_a_waiting_escalation(api, stack):
    ws = waiting_escalation(api)
    r = requests.post(scheduler_url(stack, "/assignment_sweep:run"), timeout=10)
    assert r.status_code == 200, r.text
    wait_for(lambda: assigned(ws.id))
    job = wait_for(lambda: (j := requests.get(scheduler_url(stack, "/assignment_sweep"), timeout=10).json())
                   ["status"] and j)
    assert job["status"]["code"] == 0 and job["lastAttemptTime"]


def _pending_workspaces(api, n: int, online: bool) -> list[str]:
    """n workspaces, each with a waiting escalation (its agent online or not, no event told)."""
    from concurrent.futures import ThreadPoolExecutor

    def make(_):
        ws = waiting_escalation(api)
        if not online:
            agents = db().collection("workspaces").document(ws.id).collection("agents")
            for doc in agents.stream():
                doc.reference.update({"status": "offline"})
        return ws.id
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(make, range(n)))


def test_the_sweep_pages_and_continues_in_cloud_tasks_until_every_workspace_is_done(api):
    workspaces = _pending_workspaces(api, 7, online=True)
    r = call_internal(api, "assignment_sweep", {"pageSize": 3, "budgetSeconds": 0},
                      headers={"X-CloudScheduler-ScheduleTime": "2026-01-01T00:00:00Z"})
    body = r.json()
    assert r.status_code == 200 and body["ok"] and body["done"] is False and body["processed"] == 3, body
    # The continuations (queue `jobs`, OIDC-authenticated like the scheduler's call) do the rest.
    wait_for(lambda: all(assigned(ws) for ws in workspaces), timeout=90)


def test_a_time_slot_run_twice_starts_its_work_once(api):
    workspaces = _pending_workspaces(api, 3, online=False)     # nobody to assign: they stay waiting
    slot = {"X-CloudScheduler-ScheduleTime": datetime.now(timezone.utc).isoformat()}
    first = call_internal(api, "assignment_sweep", {}, headers=slot).json()
    again = call_internal(api, "assignment_sweep", {}, headers=slot).json()
    assert (first["processed"], first["started"]) == (3, 3), first
    assert (again["processed"], again["started"]) == (3, 0), again        # Scheduler repeating the slot
    later = call_internal(api, "assignment_sweep", {}, headers={"X-CloudScheduler-ScheduleTime": "next"}).json()
    assert later["started"] == 3
    assert all(e["status"] == "pending" for ws in workspaces for e in escalations(ws))


def test_the_driver_calls_a_job_at_its_cron_times_in_its_time_zone(stack):
    """The driver's loop with the clock in the test's hands: 09:00 in Mexico City is 15:00 UTC."""
    from google.oauth2 import id_token

    from utalk.internal_auth import CertsCache

    target = Endpoint(lambda body: 200, path="/job")
    now = [datetime(2026, 3, 2, 14, 59, 0, tzinfo=timezone.utc).timestamp()]
    job = Job("morning", "0 9 * * 1-5", "America/Mexico_City", target.url, settings().invoker_service_account, 10)
    driver = Driver([job], clock=lambda: now[0])
    assert job.next_time == datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
    assert driver.tick() == []                            # 14:59: not yet
    now[0] += 61                                          # 15:00:01
    for thread in driver.tick():
        thread.join(10)
    now[0] += 30
    assert driver.tick() == []                            # once per slot
    try:
        [(_, headers, _)] = target.calls
        call = {k.lower(): v for k, v in headers.items()}
        assert call["x-cloudscheduler-scheduletime"] == "2026-03-02T15:00:00Z"
        assert call["x-cloudscheduler-jobname"] == "morning" and call["x-cloudscheduler"] == "true"
        token = call["authorization"].removeprefix("Bearer ")
        claims = id_token.verify_token(token, CertsCache(), audience=target.url, certs_url=settings().oidc_certs_url)
        assert claims["email"] == settings().invoker_service_account
        assert job.next_time == datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)   # the next weekday
    finally:
        target.close()
