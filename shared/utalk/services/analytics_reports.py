"""Analytics reports: the counter shards of a date range folded by day or week, plus customer
message counts by aggregation, shaped as series ready for charts (docs/analytics.md).

Who may read what: admins everything; an agent only the agents report, only their own figures.
"""
from __future__ import annotations

import csv
import io
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import get_args

from utalk import clock, errors
from utalk.auth.tokens import Principal
from utalk.models.analytics import (MAX_DAYS, AgentFigures, AgentLoad, AgentPoint, AgentsReport, AnalyticsQuery,
                                    BotPoint, BotReport, Bucket, ConversationsPoint, ConversationsReport, Duration,
                                    ModelUsage, Occupancy, Offers, Overview, Range, Rates, Volume, VolumePoint)
from utalk.models.conversations import ChannelKind
from utalk.repositories.analytics import AnalyticsRepository, fold
from utalk.repositories.base import WorkspaceScope
from utalk.services.analytics import BUCKETS, by_day, epoch, settings_of, zone

DEFAULT_DAYS = 7
CHANNELS = get_args(ChannelKind)


@dataclass
class Scope:
    """A resolved report request: days, periods and the rows of the counters in them."""
    ws: str
    query: AnalyticsQuery
    first: date
    last: date
    tz: str
    agent: str | None
    rows: list[dict]

    def period(self, day: str) -> str:
        d = date.fromisoformat(day)
        return (d - timedelta(days=d.weekday())).isoformat() if self.query.interval == "week" else day

    def periods(self) -> list[str]:
        days = (self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1))
        return list(dict.fromkeys(self.period(d.isoformat()) for d in days))

    def range(self) -> Range:
        return Range(from_=self.first.isoformat(), to=self.last.isoformat(), timeZone=self.tz,
                     interval=self.query.interval, channel=self.query.channel, agentId=self.agent)

    def by(self, key) -> dict:
        """The rows folded by `key(row)`."""
        out: dict = {}
        for row in self.rows:
            fold(out.setdefault(key(row), {}), row)
        return out

    def total(self) -> dict:
        out: dict = {}
        for row in self.rows:
            fold(out, row)
        return out

    def bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        tz = zone({"timeZone": self.tz})
        return (datetime.combine(first, time(), tz), datetime.combine(last + timedelta(days=1), time(), tz))


def merged(*parts: dict) -> dict:
    out: dict = {}
    for part in parts:
        fold(out, part or {})
    return out


def summary(hist: dict | None) -> Duration:
    hist = hist or {}
    n = int(hist.get("n") or 0)
    counts = hist.get("b") or {}
    buckets = [Bucket(le=float(b), count=int(counts.get(str(b), 0))) for b in BUCKETS]
    buckets.append(Bucket(le=None, count=int(counts.get("inf", 0))))

    def rank(p: float) -> float | None:
        target, seen = max(1, math.ceil(p * n)), 0
        for b in buckets:
            seen += b.count
            if seen >= target:
                return b.le
        return None

    if n == 0:
        return Duration(buckets=buckets)
    return Duration(n=n, mean=round(float(hist.get("sum") or 0) / n, 3), median=rank(0.5), p90=rank(0.9),
                    buckets=buckets)


def ratio(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def _int(value) -> int:
    return int(round(value or 0))


# -- resolving a request ---------------------------------------------------------------------------
def resolve(principal: Principal, query: AnalyticsQuery, agents_report: bool = False) -> Scope:
    ws = principal.workspace_id
    agent = query.agentId
    if principal.role != "admin":
        if not agents_report:
            raise errors.Forbidden("Only admins read workspace analytics", code="insufficient_role")
        if agent not in (None, principal.user_id):
            raise errors.Forbidden("Agents read only their own figures", code="not_your_figures")
        agent = principal.user_id
    if agent and _agent(ws, agent) is None:
        raise errors.NotFound("No such agent", code="agent_not_found")
    cfg = settings_of(ws)
    tz = zone(cfg)
    today = datetime.now(tz).date()
    last = query.to or today
    first = query.from_ or (last - timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise errors.ValidationFailed("`to` is before `from`", code="invalid_range",
                                      details={"from": first.isoformat(), "to": last.isoformat()})
    if (last - first).days + 1 > MAX_DAYS:
        raise errors.ValidationFailed(f"At most {MAX_DAYS} days per report", code="range_too_long",
                                      details={"maxDays": MAX_DAYS})
    rows = AnalyticsRepository(ws).counters(first.isoformat(), last.isoformat(), query.channel, agent)
    return Scope(ws, query, first, last, tz.key, agent, rows)


def _agent(ws: str, agent_id: str) -> dict | None:
    from utalk.repositories.agents import AgentRepository
    try:
        return AgentRepository(ws).get(agent_id)
    except errors.NotFound:
        return None


def _customer_messages(scope: Scope, spans: list[tuple[date, date]], channel: str | None = None) -> list[int]:
    """One count() aggregation per span (a period's first and last day)."""
    if scope.agent:
        return [0 for _ in spans]
    repo = AnalyticsRepository(scope.ws)
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda span: repo.customer_messages(*scope.bounds(*span), channel or scope.query.channel),
                             spans))


def _spans(scope: Scope) -> list[tuple[date, date]]:
    """Each period's days, clipped to the range."""
    spans = []
    for period in scope.periods():
        start = max(date.fromisoformat(period), scope.first)
        end = min(date.fromisoformat(period) + timedelta(days=6 if scope.query.interval == "week" else 0),
                  scope.last)
        spans.append((start, end))
    return spans


def volume(c: dict, messages_in: int | None) -> dict:
    out = c.get("out") or {}
    return {"opened": _int(c.get("opened")), "reopened": _int(c.get("reopened")), "closed": _int(c.get("closed")),
            "contained": _int(c.get("contained")), "escalations": _int(c.get("escalations")),
            "messagesIn": messages_in, "messagesBot": _int(out.get("bot")), "messagesAgent": _int(out.get("agent"))}


def rates(c: dict) -> Rates:
    closed = c.get("closed") or 0
    return Rates(containment=ratio(c.get("contained") or 0, closed), reopen=ratio(c.get("reopened") or 0, closed),
                 offerAcceptance=ratio(c.get("accepted") or 0, c.get("offers") or 0))


def first_response(c: dict) -> Duration:
    return summary(merged(c.get("frt_in"), c.get("frt_out")))


# -- the reports -----------------------------------------------------------------------------------
def overview(principal: Principal, query: AnalyticsQuery) -> Overview:
    scope = resolve(principal, query)
    total, per = scope.total(), scope.by(lambda r: scope.period(r["day"]))
    counts = _customer_messages(scope, _spans(scope))
    messages_in = None if scope.agent else sum(counts)
    series = [VolumePoint(period=p, **volume(per.get(p, {}), None if scope.agent else n))
              for p, n in zip(scope.periods(), counts)]
    return Overview(range=scope.range(), totals=Volume(**volume(total, messages_in)), rates=rates(total),
                    firstResponse=first_response(total), firstHumanResponse=summary(total.get("fhrt")),
                    resolution=summary(total.get("resolution")), queueWait=summary(total.get("queue")),
                    series=series)


def conversations(principal: Principal, query: AnalyticsQuery) -> ConversationsReport:
    scope = resolve(principal, query)
    total, per = scope.total(), scope.by(lambda r: scope.period(r["day"]))
    messages_in = None if scope.agent else sum(_customer_messages(scope, [(scope.first, scope.last)]))
    series = [ConversationsPoint(period=p, opened=_int(per.get(p, {}).get("opened")),
                                 closed=_int(per.get(p, {}).get("closed")),
                                 firstResponse=first_response(per.get(p, {})),
                                 resolution=summary(per.get(p, {}).get("resolution")))
              for p in scope.periods()]
    return ConversationsReport(
        range=scope.range(), totals=Volume(**volume(total, messages_in)), rates=rates(total),
        firstResponse=first_response(total), firstResponseInHours=summary(total.get("frt_in")),
        firstResponseOutOfHours=summary(total.get("frt_out")),
        firstResponseBy={k: _int(v) for k, v in (total.get("frt_by") or {}).items()},
        firstHumanResponse=summary(total.get("fhrt")), resolution=summary(total.get("resolution")),
        queueWait=summary(total.get("queue")),
        escalationsByReason={k: _int(v) for k, v in (total.get("esc") or {}).items() if v},
        offers=Offers(offers=_int(total.get("offers")), accepted=_int(total.get("accepted")),
                      rejected=_int(total.get("rejected"))),
        series=series)


def occupancy(c: dict) -> Occupancy:
    occ = c.get("occ") or {}
    held, online, cap = (round(float(occ.get(k) or 0), 3) for k in ("held", "online", "capacity"))
    return Occupancy(heldSeconds=held, onlineSeconds=online, capacitySeconds=cap, averageHeld=ratio(held, online),
                     occupancy=ratio(held, cap))


def _running(scope: Scope, ids: list[str], profiles: dict[str, dict]) -> list[dict]:
    """Counter-shaped rows for the spans not yet ended (docs/analytics.md, occupancy): holds from
    their acceptance and presence from the last status change, up to now, on the range's days."""
    if not ids:
        return []
    cfg, now = {"timeZone": scope.tz}, clock.now().timestamp()
    first, last = scope.first.isoformat(), scope.last.isoformat()

    def rows(agent: str, channel: str, start: float, fields) -> list[dict]:
        return [{"day": day, "channel": channel, "agent": agent, "occ": fields(seconds)}
                for day, seconds in by_day(cfg, start, now) if first <= day <= last]

    out = []
    for conv in AnalyticsRepository(scope.ws).held(ids):
        if scope.query.channel in (None, conv.get("channel")):
            out += rows(conv["analytics"]["agentId"], conv.get("channel") or "", conv["analytics"]["acceptedAt"],
                        lambda s: {"held": s})
    if scope.query.channel is None:      # presence has no channel
        for agent in ids:
            p = profiles.get(agent) or {}
            start = epoch(p.get("statusChangedAt")) or epoch(p.get("createdAt"))
            if (p.get("status") or "offline") != "offline" and start is not None:
                cap = int(p.get("maxConversations") or 0)
                out += rows(agent, "", start, lambda s, cap=cap: {"online": s, "capacity": s * cap})
    return out


def agents(principal: Principal, query: AnalyticsQuery) -> AgentsReport:
    scope = resolve(principal, query, agents_report=True)
    per_agent = scope.by(lambda r: r.get("agent") or "")
    per_agent.pop("", None)
    present = [] if scope.agent else AnalyticsRepository(scope.ws).present()
    ids = [scope.agent] if scope.agent else sorted(set(per_agent) | set(present))
    profiles = _profiles(scope.ws, ids)
    scope.rows += _running(scope, ids, profiles)
    per_agent = scope.by(lambda r: r.get("agent") or "")
    figures = []
    for agent_id in ids:
        c, profile = per_agent.get(agent_id, {}), profiles.get(agent_id) or {}
        current, cap = int(profile.get("currentConversations") or 0), int(profile.get("maxConversations") or 0)
        figures.append(AgentFigures(
            agentId=agent_id, name=profile.get("name"), handled=_int(c.get("accepted")),
            replies=_int((c.get("out") or {}).get("agent")), closed=_int(c.get("closed")),
            offers=Offers(offers=_int(c.get("offers")), accepted=_int(c.get("accepted")),
                          rejected=_int(c.get("rejected"))),
            firstHumanResponse=summary(c.get("fhrt")), queueWait=summary(c.get("queue")),
            load=AgentLoad(status=profile.get("status"), currentConversations=current, maxConversations=cap,
                           occupancy=ratio(current, cap)),
            occupancy=occupancy(c)))
    per = scope.by(lambda r: scope.period(r["day"]) if r.get("agent") else None)
    series = []
    for p in scope.periods():
        c, occ = per.get(p, {}), occupancy(per.get(p, {}))
        series.append(AgentPoint(period=p, handled=_int(c.get("accepted")),
                                 replies=_int((c.get("out") or {}).get("agent")),
                                 closed=_int(c.get("closed")), heldSeconds=occ.heldSeconds,
                                 capacitySeconds=occ.capacitySeconds, occupancy=occ.occupancy))
    return AgentsReport(range=scope.range(), agents=figures, series=series)


def _profiles(ws: str, ids: list[str]) -> dict[str, dict]:
    """Agent profiles with the user's name (two batched reads, whatever the number of agents)."""
    if not ids:
        return {}
    scope = WorkspaceScope(ws)
    agents_ = {s.id: s.to_dict() for s in scope.db.get_all([scope.collection("agents").document(i) for i in ids])
               if s.exists}
    users = {s.id: s.to_dict() for s in scope.db.get_all([scope.collection("users").document(i) for i in ids],
                                                          field_paths=["name"]) if s.exists}
    return {i: {**agents_.get(i, {}), "name": (users.get(i) or {}).get("name")} for i in ids}


def bot(principal: Principal, query: AnalyticsQuery) -> BotReport:
    scope = resolve(principal, query)
    total, per = scope.total(), scope.by(lambda r: scope.period(r["day"]))

    def usage(c: dict) -> dict:
        b = c.get("bot") or {}
        return {"runs": _int(b.get("runs")), "failed": _int(b.get("failed")), "tokensIn": _int(b.get("tokensIn")),
                "tokensOut": _int(b.get("tokensOut")), "costUsd": round(float(b.get("costUsd") or 0), 6)}

    models = {name: ModelUsage(runs=_int(m.get("runs")), tokensIn=_int(m.get("tokensIn")),
                               tokensOut=_int(m.get("tokensOut")), costUsd=round(float(m.get("costUsd") or 0), 6),
                               latencyMsMean=round((m.get("latencyMs") or 0) / m["runs"], 1) if m.get("runs") else None)
              for name, m in (total.get("model") or {}).items()}
    return BotReport(range=scope.range(), **usage(total), latency=summary(total.get("latency")), byModel=models,
                     containment=rates(total).containment,
                     series=[BotPoint(period=p, **usage(per.get(p, {}))) for p in scope.periods()])


# -- CSV ------------------------------------------------------------------------------------------
CSV_COLUMNS = ("day", "channel", "agent", "opened", "reopened", "closed", "contained", "messagesIn", "messagesBot",
               "messagesAgent", "escalations", "offers", "accepted", "rejected", "firstResponseN",
               "firstResponseMeanSeconds", "firstHumanResponseN", "firstHumanResponseMeanSeconds", "resolutionN",
               "resolutionMeanSeconds", "queueWaitN", "queueWaitMeanSeconds", "botRuns", "tokensIn", "tokensOut",
               "costUsd", "heldSeconds", "onlineSeconds", "capacitySeconds", "occupancy")


def export_rows(principal: Principal, query: AnalyticsQuery):
    """The CSV, one line at a time: one row per day x channel x agent that has figures (rows without
    an agent carry the customer messages of that day and channel)."""
    scope = resolve(principal, query)   # checks before the first byte is streamed
    ids = [scope.agent] if scope.agent else sorted({r["agent"] for r in scope.rows if r.get("agent")}
                                                  | set(AnalyticsRepository(scope.ws).present()))
    scope.rows += _running(scope, ids, _profiles(scope.ws, ids))
    cells = scope.by(lambda r: (r["day"], r.get("channel") or "", r.get("agent") or ""))
    days = [(scope.first + timedelta(days=i)) for i in range((scope.last - scope.first).days + 1)]
    channels = [scope.query.channel] if scope.query.channel else list(CHANNELS)
    keys = [(d, ch) for d in days for ch in channels]
    counts = [] if scope.agent else _customer_counts(scope, keys)
    for (d, ch), n in zip(keys, counts):
        if n:
            cells.setdefault((d.isoformat(), ch, ""), {})["_in"] = n

    names = _agent_names(principal, scope, {a for (_, _, a) in cells if a})

    def generate():
        out = io.StringIO()
        writer = csv.writer(out)
        if names is not None:   # the spreadsheet form: a BOM so Excel reads UTF-8 names, and the names
            out.write(BOM)
            writer.writerow(CSV_COLUMNS[:3] + ("agentName",) + CSV_COLUMNS[3:])
        else:
            writer.writerow(CSV_COLUMNS)
        for (day, channel, agent) in sorted(cells):
            c = cells[(day, channel, agent)]
            v = volume(c, None if agent else int(c.get("_in", 0)))
            frt, fhrt, res, queue = (first_response(c), summary(c.get("fhrt")), summary(c.get("resolution")),
                                     summary(c.get("queue")))
            b, occ = c.get("bot") or {}, occupancy(c)
            writer.writerow([day, channel, agent, *([names.get(agent, "")] if names is not None else []),
                             v["opened"], v["reopened"], v["closed"], v["contained"],
                             "" if v["messagesIn"] is None else v["messagesIn"], v["messagesBot"], v["messagesAgent"],
                             v["escalations"], _int(c.get("offers")), _int(c.get("accepted")),
                             _int(c.get("rejected")), frt.n, _blank(frt.mean), fhrt.n, _blank(fhrt.mean), res.n,
                             _blank(res.mean), queue.n, _blank(queue.mean), _int(b.get("runs")),
                             _int(b.get("tokensIn")), _int(b.get("tokensOut")), round(float(b.get("costUsd") or 0), 6),
                             occ.heldSeconds, occ.onlineSeconds, occ.capacitySeconds, _blank(occ.occupancy)])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        if out.getvalue():
            yield out.getvalue()

    return generate()


def _customer_counts(scope: Scope, keys: list[tuple[date, str]]) -> list[int]:
    repo = AnalyticsRepository(scope.ws)
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda key: repo.customer_messages(*scope.bounds(key[0], key[0]), key[1]), keys))


def _blank(value):
    return "" if value is None else value


# The export for spreadsheets (feature flag, docs/feature-flags.md): the agent's name beside the id,
# and a UTF-8 byte order mark, without which Excel shows "José" as "JosÃ©".
EXPORT_FLAG = "analytics.export_agent_names"
BOM = "\ufeff"


def _agent_names(principal: Principal, scope: Scope, agents: set[str]) -> dict[str, str] | None:
    """The names of the export's agents when the flag is on for the workspace, else None (one
    batched read of their user documents)."""
    from utalk import flags
    from utalk.repositories import inbox

    if not flags.is_on(EXPORT_FLAG, principal.workspace_id, principal.tenant_id):
        return None
    flags.used(EXPORT_FLAG)
    users = inbox.get_many(WorkspaceScope(scope.ws), "users", sorted(agents), fields=["name"])
    return {agent: (users.get(agent) or {}).get("name") or "" for agent in agents}
