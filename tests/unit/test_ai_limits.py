"""A workspace's AI limits from its settings: defaults, clamping, the token split, window shards."""
from __future__ import annotations

import pytest

from utalk.ai.limits import AiLimits


def test_defaults_are_the_specs():
    limits = AiLimits.from_settings({})
    assert (limits.requests_per_minute, limits.max_concurrent, limits.max_tokens_per_request,
            limits.timeout_seconds) == (60, 10, 4000, 30)
    assert AiLimits.from_settings({"ai": None}) == limits == AiLimits.from_settings({"ai": "nonsense"})


def test_settings_are_read_and_out_of_range_values_clamped():
    limits = AiLimits.from_settings({"ai": {"requestsPerMinute": 120, "maxConcurrent": 0,
                                            "maxTokensPerRequest": "2000", "timeoutSeconds": "soon"}})
    assert (limits.requests_per_minute, limits.max_concurrent, limits.max_tokens_per_request,
            limits.timeout_seconds) == (120, 1, 2000, 30)
    assert AiLimits.from_settings({"ai": {"requestsPerMinute": 10 ** 9}}).requests_per_minute == 6000


@pytest.mark.parametrize("tokens,completion,context", [(4000, 1000, 3000), (1000, 250, 750), (256, 128, 128),
                                                       (128_000, 1024, 126_976)])
def test_a_requests_tokens_are_split_between_context_and_completion(tokens, completion, context):
    limits = AiLimits(max_tokens_per_request=tokens)
    assert (limits.completion_tokens, limits.context_tokens) == (completion, context)


@pytest.mark.parametrize("rpm,window,caps", [(60, 60, [12] * 5), (24, 5, [2]), (1, 5, [1]), (61, 60, [11] + [10] * 5),
                                             (6000, 60, [120] * 50)])
def test_a_window_is_split_into_shards_of_at_most_twelve_until_fifty(rpm, window, caps):
    got = AiLimits(requests_per_minute=rpm).shard_caps(window)
    assert sum(got) == max(1, round(rpm * window / 60)) and sorted(got, reverse=True) == caps


def test_the_provider_timeout_is_the_workspaces_under_the_instance_ceiling(monkeypatch):
    monkeypatch.setenv("UTALK_AI_TIMEOUT_SECONDS", "2")
    assert AiLimits(timeout_seconds=1).provider_timeout() == 1.0
    assert AiLimits(timeout_seconds=30).provider_timeout() == 2.0
