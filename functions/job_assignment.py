"""Scheduled job `assignment_sweep`: every workspace with waiting escalations gets an assignment run.

Assignment runs are requested by events (a new escalation, a reject, a freed slot, an agent coming
online); this sweep catches capacity that freed without one. Idempotent per run (utalk.jobs).
"""
from utalk import jobs
from utalk.repositories import sweeps
from utalk.services import assignment

sweep = jobs.sweep("assignment_sweep", pages=sweeps.workspaces_with_waiting_escalations,
                   each=assignment.sweep_waiting)
