"""Scheduled job `conversations_autoclose`: conversations idle longer than their workspace's
`autoCloseDays` (30) are closed, their escalation completed and the agent's slot freed, with
`conversation:updated` reason `auto_closed` (services/lifecycle.py). Idempotent per run (utalk.jobs)."""
from utalk import jobs
from utalk.services import lifecycle

sweep = jobs.sweep("conversations_autoclose", pages=lifecycle.pages, each=lifecycle.each)
