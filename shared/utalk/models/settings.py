"""Workspace settings: the one model of the document `workspaces/{ws}.settings`, with every default.

The defaults here are the product's (the seed writes them into a new workspace); a key a stored
document lacks reads as its default (`effective()`), so every reader sees a whole, valid document.
Who reads which key is in docs/settings.md.

Inputs are strict (no "12" for 12, no "true" for true) and refuse unknown keys at every level, so
a typo in a PATCH is a field error, never a key silently stored and ignored.
"""
from __future__ import annotations

import copy
import re
import zoneinfo
from datetime import date
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model,
                      model_validator)

from utalk.models.common import Output, Skills


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


Text = Annotated[str, Field(min_length=1, max_length=1000)]
Keyword = Annotated[str, Field(min_length=1, max_length=100)]


def _time_zone(value: str) -> str:
    if len(value) > 64:
        raise ValueError("not an IANA time zone")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("not an IANA time zone (e.g. America/Mexico_City)") from None
    return value


def _day(value: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("not a date YYYY-MM-DD")
    date.fromisoformat(value)  # ValueError for 2026-02-30
    return value


def _sorted_unique(values: list[str]) -> list[str]:
    return sorted(set(values))


TimeZone = Annotated[str, AfterValidator(_time_zone)]
Day = Annotated[str, AfterValidator(_day)]
_CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"


class FaqEntry(_Strict):
    """One answer of the offline responder: the first entry with a keyword in the message wins."""
    keywords: list[Keyword] = Field(min_length=1, max_length=20)
    answer: Text
    intent: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class BotSettings(_Strict):
    enabled: bool = True
    greeting: Text = "¡Hola! Soy el asistente virtual de UTalk. ¿En qué puedo ayudarte?"
    holdingMessage: Text = "Gracias por tu mensaje. Te comunicaremos con un agente en breve."
    # "auto": the instance's default (OpenAI when OPENAI_API_KEY is set, else offline).
    provider: Literal["auto", "openai", "offline"] = "auto"
    model: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:/-]{1,100}$")] = "gpt-4o-mini"
    systemPrompt: Annotated[str, Field(min_length=1, max_length=8000)] = (
        "Eres el asistente de atención al cliente de este negocio. Responde breve y amablemente, en el "
        "idioma del cliente; no inventes precios ni políticas.")
    fallback: Text = "No estoy seguro de haber entendido. ¿Puedes darme más detalles?"
    faq: list[FaqEntry] = Field(max_length=100, default_factory=lambda: [FaqEntry(
        keywords=["horario", "abren", "cierran"], intent="hours",
        answer="Nuestro horario de atención es de lunes a viernes de 9:00 a 18:00.")])


class EscalationSettings(_Strict):
    keywords: list[Keyword] = Field(default_factory=lambda: ["agente", "humano", "asesor", "persona"],
                                    max_length=100)
    timeoutHours: float = Field(default=12, ge=0, le=720)          # 0: no unanswered-message timeout
    confidenceThreshold: float = Field(default=0.5, ge=0, le=1)
    routeBySkill: bool = False
    # intent -> the skills an escalation of that intent needs, e.g. {"billing": ["billing"]}
    skillsByIntent: dict[Annotated[str, Field(min_length=1, max_length=100)], Skills] = \
        Field(default_factory=dict, max_length=100)
    offerTimeoutSeconds: int = Field(default=120, ge=10, le=86400)
    releaseOnOffline: Literal["offers", "offers_and_conversations"] = "offers"


class OpeningHours(_Strict):
    """One opening of a day, local time of `timeZone`; "24:00" closes at midnight."""
    open: Annotated[str, Field(pattern=_CLOCK)]
    close: Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]

    @model_validator(mode="after")
    def _ordered(self):
        if self.close <= self.open:
            raise ValueError("close must be after open (split a night shift over two days)")
        return self


def _no_overlap(openings: list[OpeningHours]) -> list[OpeningHours]:
    openings = sorted(openings, key=lambda o: o.open)
    for a, b in zip(openings, openings[1:]):
        if b.open < a.close:
            raise ValueError(f"openings overlap ({a.open}-{a.close} and {b.open}-{b.close})")
    return openings


Openings = Annotated[list[OpeningHours], Field(max_length=6), AfterValidator(_no_overlap)]


def _nine_to_six() -> list[OpeningHours]:
    return [OpeningHours(open="09:00", close="18:00")]


class WeeklySchedule(_Strict):
    mon: Openings = Field(default_factory=_nine_to_six)
    tue: Openings = Field(default_factory=_nine_to_six)
    wed: Openings = Field(default_factory=_nine_to_six)
    thu: Openings = Field(default_factory=_nine_to_six)
    fri: Openings = Field(default_factory=_nine_to_six)
    sat: Openings = Field(default_factory=list)
    sun: Openings = Field(default_factory=list)


class BusinessHours(_Strict):
    enabled: bool = False
    weekly: WeeklySchedule = Field(default_factory=WeeklySchedule)
    holidays: Annotated[list[Day], Field(max_length=400), AfterValidator(_sorted_unique)] = \
        Field(default_factory=list)
    outOfHoursMessage: Text = ("Gracias por escribirnos. Estamos fuera de nuestro horario de atención; "
                               "un agente te responderá en cuanto abramos.")


class AiLimits(_Strict):
    """The workspace's AI budget (the platform's queues are sized for every workspace together)."""
    requestsPerMinute: int = Field(default=60, ge=1, le=10000)
    maxConcurrent: int = Field(default=10, ge=1, le=1000)
    maxTokensPerRequest: int = Field(default=4000, ge=100, le=128000)
    timeoutSeconds: int = Field(default=30, ge=1, le=300)


class MessengerSettings(_Strict):
    # The page has Meta's human_agent permission: agents may answer up to 7 days after the
    # customer's last message (MESSAGE_TAG HUMAN_AGENT); the bot never uses it.
    humanAgentTag: bool = False


class WorkspaceSettings(_Strict):
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = "es"
    timeZone: TimeZone = "UTC"
    agentVisibility: Literal["all", "assigned"] = "all"
    bot: BotSettings = Field(default_factory=BotSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    businessHours: BusinessHours = Field(default_factory=BusinessHours)
    autoCloseDays: int = Field(default=30, ge=1, le=3650)
    mediaRetentionDays: int = Field(default=730, ge=1, le=36500)
    ai: AiLimits = Field(default_factory=AiLimits)
    messenger: MessengerSettings = Field(default_factory=MessengerSettings)

    def stored(self) -> dict:
        """The document as Firestore keeps it (JSON types only)."""
        return self.model_dump(mode="json")


def defaults() -> dict:
    return WorkspaceSettings().stored()


def effective(stored: Any) -> dict:
    """The whole settings document a reader works with: `stored` (possibly partial, possibly
    holding a value an older version wrote) with defaults for what is absent or invalid."""
    return WorkspaceSettings.model_validate(readable(stored)).stored()


def readable(stored: Any) -> dict:
    """`stored` without the keys the model refuses (each dropped to its default, never a failed
    read): what a PATCH merges into."""
    doc = copy.deepcopy(stored) if isinstance(stored, dict) else {}
    for _ in range(20):  # each round drops every key one validation names; nesting is shallow
        try:
            WorkspaceSettings.model_validate(doc)
            return doc
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                _drop(doc, _key_path(err["loc"]))
    return {}


def _key_path(loc: tuple) -> tuple:
    """The dict keys of an error's location, up to the first list index (a list is replaced whole)."""
    path = []
    for part in loc:
        if isinstance(part, int):
            break
        path.append(part)
    return tuple(path)


def _drop(doc: dict, path: tuple) -> None:
    node = doc
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return
    if path and isinstance(node, dict):
        node.pop(path[-1], None)
    elif not path:
        doc.clear()


def _partial(model: type[BaseModel]) -> type[BaseModel]:
    """`model` with every key optional and nullable, its constraints kept: the body of a PATCH.
    Sub-models become partial too (merged key by key); maps take null values (a removed key);
    lists and scalars are given whole."""
    fields = {}
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            kind = _partial(kind)
        elif get_origin(kind) is dict:
            key, value = get_args(kind)
            kind = dict[key, value | None]
        fields[name] = (Annotated[(kind, *field.metadata)] | None if field.metadata else kind | None, None)
    return create_model(f"{model.__name__}Patch", __base__=_Strict, __doc__=model.__doc__, **fields)


# PATCH /workspace/settings: a JSON merge patch of the settings document (null: back to the default).
SettingsPatch = _partial(WorkspaceSettings)


class WorkspaceUpdated(Output):
    """`workspace:updated`: an admin changed the workspace's settings (audience: the workspace).
    Only which keys changed: the values are for admins (GET /workspace/settings, the audit log)."""
    workspaceId: str
    paths: list[str]            # dotted paths of the changed keys, e.g. "escalation.timeoutHours"
    auditId: str
    by: str
