"""Conversation use cases: the id rule, listing, reading, status changes and marking read."""
from __future__ import annotations

import re

from utalk import clock, errors, events, pubsub
from utalk.auth.tokens import Principal
from utalk.models.conversations import TRANSITIONS, Conversation, ConversationQuery
from utalk.models.escalation_summary import WAITING
from utalk.models.events import ConversationUpdated
from utalk.repositories.base import WorkspaceScope
from utalk.repositories.conversations import ConversationRepository
from utalk.text import normalize
from utalk.visibility import agents_see_all, ensure_may_act, ensure_visible


def conversation_id(customer: str, business: str) -> str:
    """`conv_+<a>_+<b>` with the two addresses sorted, so both sides map to one conversation.

    Phone numbers are E.164 (`+1555...`); other channels pass their own stable addresses
    (`fb:<psid>`, `web:<visitor>`), giving `conv_fb:<psid>_fb:<page>` in the same shape.
    """
    a, b = sorted((customer, business))
    return f"conv_{a}_{b}"


def to_conversation(stored: dict) -> Conversation:
    return Conversation.model_validate(stored)


def restricted_to(viewer: Principal | None) -> str | None:
    """The agent a viewer's sight is limited to, or None when they see the whole workspace.

    The rule of utalk/visibility.py (and firestore.rules): agents see every conversation when the
    workspace's `settings.agentVisibility` is "all" (the default), otherwise only those assigned to them.
    """
    if viewer is None or viewer.role != "agent":
        return None
    snap = WorkspaceScope(viewer.workspace_id).root.get(["settings"])
    return None if agents_see_all(snap.to_dict() if snap.exists else None) else viewer.user_id


def get(workspace_id: str, conversation_id_: str, viewer: Principal | None = None) -> Conversation:
    stored = ConversationRepository(workspace_id).get(conversation_id_)
    return to_conversation(ensure_visible(stored, restricted_to(viewer)))


_NOBODY = object()


def list_conversations(viewer: Principal, q: ConversationQuery):
    """The inbox's list: by activity, or a customer lookup; "mine", "unassigned" and "waiting"
    combine with the other filters."""
    filters = {k: v for k, v in (("status", q.status), ("channel", q.channel), ("botEnabled", q.botEnabled))
               if v is not None}
    holders = {h for h, on in ((q.assignedAgent, q.assignedAgent is not None), (viewer.user_id, q.mine),
                               (_NOBODY, q.unassigned)) if on}
    if len(holders) > 1:
        raise errors.BadRequest("assignedAgent, mine and unassigned name different holders",
                                code="conflicting_filters")
    only = restricted_to(viewer)
    if only:
        if holders - {only}:
            return [], None   # not theirs to see: as empty as a filter that matches nothing
        holders = {only}
    if holders:
        [holder] = holders
        filters["assignedAgent"] = None if holder is _NOBODY else holder
    if q.waiting:
        filters["escalation.status"] = list(WAITING)
    repo = ConversationRepository(viewer.workspace_id)
    if q.customer:
        field, prefixes = customer_prefixes(q.customer)
        stored, cursor = repo.lookup(field, prefixes, filters, q.limit, q.cursor)
    else:
        stored, cursor = repo.list(filters, q.limit, q.cursor)
    return [to_conversation(c) for c in stored], cursor


_PHONE = re.compile(r"^\+?[\d\s().-]*\d[\d\s().-]*$")
_ADDRESS_SCHEMES = ("fb:", "web:")


def customer_prefixes(text: str) -> tuple[str, list[str]]:
    """What a lookup box holds -> (field, prefixes to range over). A phone number (any spacing)
    is an E.164 address prefix; `fb:`/`web:` ids are address prefixes as typed; anything else a
    prefix of the folded name (`customer.nameKey`: "jose" finds "José", "ANA" finds "ana")."""
    text = text.strip()
    if _PHONE.match(text):
        return "customer.address", ["+" + re.sub(r"\D", "", text)]
    scheme = next((s for s in _ADDRESS_SCHEMES if text.lower().startswith(s)), None)
    if scheme:
        return "customer.address", [scheme + text[len(scheme):]]
    key = normalize(text)
    return "customer.nameKey", [key] if key else []        # only punctuation: no name starts with it


# What becomes of an active escalation when the status route moves its conversation on.
COMPLETION = {"open": "returned_to_bot", "pending": "pending", "closed": "closed"}


def set_status(principal: Principal, conversation_id_: str, status: str) -> Conversation:
    """open, pending or closed; never escalated (that is the escalation flow's: a record, an
    agent offered). Leaving `escalated`, and closing, end the escalation in the same transaction:
    completed, the holder's slot freed, nobody assigned; moving to open turns the bot back on."""
    ws = principal.workspace_id
    if status == "escalated":
        endpoint = f"/api/v1/conversations/{conversation_id_}/escalate"
        raise errors.Conflict(f"Escalate through POST {endpoint}: it records the escalation and offers the "
                              "conversation to an agent", code="use_escalate", details={"endpoint": endpoint})
    from utalk.repositories.escalations import EscalationRepository  # only status changes pay for these
    from utalk.services import escalation

    def check(current: dict) -> bool:
        now = current.get("status") or "open"
        if now != status and status not in TRANSITIONS[now]:
            raise errors.Conflict(f"Cannot move a conversation from {now} to {status}",
                                  code="invalid_transition", details={"from": now, "to": status})
        if status == "closed" or now == "escalated":  # ends the holder's work: theirs or an admin's to do
            ensure_may_act(principal.role, principal.user_id, current.get("assignedAgent"))
        return True

    outcome = EscalationRepository(ws).release(conversation_id_, COMPLETION[status], status=status,
                                               resume_bot=status == "open", visible_to=restricted_to(principal),
                                               check=check)
    if outcome.changed:
        changes, before = outcome.extra["changes"], outcome.extra["before"]
        if "status" in changes or "botEnabled" in changes:
            _announce(ws, conversation_id_, before.get("assignedAgent"),
                      ConversationUpdated(conversationId=conversation_id_, reason="status", status=status,
                                          botEnabled=changes.get("botEnabled")))
        if outcome.escalation or outcome.previous_agent_id:
            escalation.after_release(ws, conversation_id_, outcome, principal.user_id, with_status=False)
    after = ConversationRepository(ws).get(conversation_id_)
    changes = outcome.extra.get("changes", {}) if outcome.changed else {}
    _account(ws, {**(outcome.extra.get("before") or outcome.conversation or {}), "id": conversation_id_},
             changes, status, after.get("closedAt"), after.get("updatedAt"))
    return to_conversation(after)


def _account(workspace_id: str, before: dict, changes: dict, status: str, closed_at, released_at=None) -> None:
    """Analytics of a status change, with `closedAt` as stored (the transaction's server time). A
    repeated close (no change) is still offered: the first attempt may have died before counting;
    the event key counts it once."""
    from utalk.services import analytics

    if status == "closed" and closed_at:
        analytics.conversation_closed(workspace_id, before, closed_at)
    elif "status" in changes and before.get("status") == "closed":
        analytics.conversation_reopened(workspace_id, before, clock.now())
    elif "assignedAgent" in changes:     # back to the bot: the holder's hold ends with the release
        analytics.hold_ended(workspace_id, before, released_at)


def mark_read(principal: Principal, conversation_id_: str) -> Conversation:
    repo = ConversationRepository(principal.workspace_id)
    only = restricted_to(principal)

    def decide(current: dict) -> dict:
        ensure_visible(current, only)
        return {"unreadCount": 0} if current.get("unreadCount") else {}

    before, changes = repo.set_status(conversation_id_, decide)
    if changes:
        _announce(principal.workspace_id, conversation_id_, before.get("assignedAgent"),
                  ConversationUpdated(conversationId=conversation_id_, reason="read", unreadCount=0))
    return get(principal.workspace_id, conversation_id_)


def _announce(workspace_id: str, conversation_id_: str, agent_id: str | None, payload: ConversationUpdated):
    pubsub.wait([events.publish("conversation:updated", workspace_id, payload,
                                conversation_id=conversation_id_, agent_id=agent_id)])


def backfill_name_keys(dry_run: bool = False, page: int = 400) -> dict:
    """Operator action after deploying `customer.nameKey`: give every conversation with a customer
    name its folded key (the lookup by name ranges over it). Idempotent: a key already right is
    left alone; pages through every workspace's conversations by document name. Returns counts."""
    from utalk import clients

    db, counts, after = clients.firestore(), {"scanned": 0, "updated": 0, "current": 0, "unnamed": 0}, None
    while True:
        query = db.collection_group("conversations").order_by("__name__").limit(page)
        snaps = list((query.start_after(after) if after else query).stream())
        if not snaps:
            return counts
        batch, changed = db.batch(), 0
        for snap in snaps:
            counts["scanned"] += 1
            customer = (snap.to_dict() or {}).get("customer")
            name = customer.get("name") if isinstance(customer, dict) else None
            key = normalize(name) if isinstance(name, str) and name else None
            if key is None:
                counts["unnamed"] += 1
            elif customer.get("nameKey") == key:
                counts["current"] += 1
            else:
                counts["updated"] += 1
                changed += 1
                batch.update(snap.reference, {"customer.nameKey": key})
        if changed and not dry_run:
            batch.commit()
        after = snaps[-1]
