"""Scheduled job `analytics_compaction`: finished days' analytics counter shards folded into one
rollup per day x channel x agent (services/analytics_compaction.py). Idempotent per run and across
runs: what is folded is deleted in the same transaction (utalk.jobs)."""
from utalk import jobs
from utalk.services import analytics_compaction

sweep = jobs.sweep("analytics_compaction", pages=analytics_compaction.pages, each=analytics_compaction.each)
