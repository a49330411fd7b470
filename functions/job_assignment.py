"""Scheduled job `assignment_sweep`: offers that lapsed without their task firing go back to the
queue, then every workspace with waiting escalations gets an assignment run.

Both are safety nets: an offer's own `offer_timeout` task returns it when it lapses, and assignment
runs are requested by events (a new escalation, a reject, a freed slot, an agent coming online, a
business-hours opening); this sweep catches a lost task and capacity that freed without an event.
Idempotent per run (utalk.jobs).
"""
from utalk import clock, jobs
from utalk.repositories import sweeps
from utalk.services import assignment


def _lapsed(cursor, size):
    return jobs.Page(*sweeps.lapsed_offers(clock.now(), cursor, size))


pages, each = jobs.phases((_lapsed, assignment.sweep_lapsed),
                          (sweeps.workspaces_with_waiting_escalations, assignment.sweep_waiting))
sweep = jobs.sweep("assignment_sweep", pages=pages, each=each)
