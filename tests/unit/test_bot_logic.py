"""Pure logic of the bot and assignment: keyword matching, context budget, agent choice, prices,
the offline responder and the structured-output model."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from utalk.ai import context
from utalk.ai.offline import OfflineProvider
from utalk.ai.pricing import cost_usd
from utalk.models.bot import BotDecision
from utalk.repositories.agents import pick_agent
from utalk.text import find_keyword


@pytest.mark.parametrize("text,expected", [
    ("Quiero hablar con un AGENTE", "agente"), ("un asesór, por favor", "Asesor"), ("HUMANO!!", "humano"),
    ("los agentes son lentos", None), ("persona", None), ("", None)])
def test_keywords_are_case_and_accent_insensitive_whole_words(text, expected):
    assert find_keyword(text, ["agente", "humano", "Asesor"]) == expected


def test_keyword_phrases_match_across_punctuation():
    assert find_keyword("¿Puedo hablar con   una-persona real?", ["una persona"]) == "una persona"


def test_context_keeps_the_newest_messages_within_the_budget():
    history = [{"text": f"mensaje {i} " + "x" * 400, "direction": "inbound" if i % 2 == 0 else "outbound"}
               for i in range(100)]
    msgs = context.build("Sé breve.", history, budget=1000)
    assert msgs[0].role == "system" and "Sé breve." in msgs[0].content and "JSON" in msgs[0].content
    assert msgs[-1].content.startswith("mensaje 99") and msgs[-1].role == "assistant"
    assert sum(context.estimate_tokens(m.content) + 4 for m in msgs) <= 1000
    assert len(msgs) < 12


def test_context_never_drops_an_oversized_last_message():
    msgs = context.build(None, [{"text": "y" * 40000, "direction": "inbound"}], budget=4000)
    assert len(msgs) == 2 and 0 < len(msgs[1].content) < 16000


def test_pick_agent_online_under_capacity_fewest_first_with_skills():
    agents = [{"userId": "a", "status": "online", "currentConversations": 3, "maxConversations": 10},
              {"userId": "b", "status": "online", "currentConversations": 1, "maxConversations": 10,
               "skills": ["billing"]},
              {"userId": "c", "status": "offline", "currentConversations": 0, "maxConversations": 10},
              {"userId": "d", "status": "online", "currentConversations": 2, "maxConversations": 2}]
    assert pick_agent(agents)["userId"] == "b"
    assert pick_agent(agents, rejected={"b"})["userId"] == "a"
    assert pick_agent(agents, skills=["billing"], route_by_skill=True)["userId"] == "b"
    assert pick_agent(agents, skills=["billing"], rejected={"b"}, route_by_skill=True) is None
    assert pick_agent([agents[2], agents[3]]) is None


def test_prices():
    assert cost_usd("gpt-4o-mini", 1_000_000, 1_000_000) == 0.75
    assert cost_usd("gpt-4o-mini-2024-07-18", 1000, 0) == 0.00015
    assert cost_usd("some-local-model", 1000, 1000) == 0.0


def test_offline_responder_is_deterministic():
    bot = OfflineProvider({"faq": [{"keywords": ["horario"], "answer": "9 a 18", "intent": "hours"}],
                           "greeting": "¡Hola!"})
    assert bot.decide("¿Cuál es el HORARIO?") == BotDecision(reply="9 a 18", intent="hours", confidence=0.9)
    assert bot.decide("hola").intent == "greeting"
    assert bot.decide("factura").confidence < 0.5


def test_decision_model_rejects_out_of_range_confidence():
    with pytest.raises(ValidationError):
        BotDecision.model_validate_json('{"reply": "x", "intent": "y", "confidence": 7, "escalate": false}')
