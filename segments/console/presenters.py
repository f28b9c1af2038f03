"""Words for what the console and the admin show: status labels, and segment history
entries rendered readably (who, what, when, before → after, and the members an entry
added or removed, by name: up to ten, then "and N more").

``history_entries`` describes a page of entries with at most four extra queries (the
members' names, looked up once for the whole page, deleted members included; whether each
entry's events went out, ``segments.event_delivery``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from segments.console.benefit_words import parameters_in_words, window_in_words
from segments.event_delivery import outcomes
from segments.models import (
    Account,
    EventStatus,
    HistoryAction,
    Portfolio,
    SegmentHistory,
    Status,
)
from segments.validators import metadata_value_text

STATUS_LABELS = {
    Status.ACTIVE: _("Active"),
    Status.INACTIVE: _("Inactive"),
    Status.PENDING: _("Pending"),
    Status.SUSPENDED: _("Suspended"),
}

ACTION_LABELS = {
    HistoryAction.CREATED: _("Created"),
    HistoryAction.UPDATED: _("Updated"),
    HistoryAction.DELETED: _("Deleted"),
    HistoryAction.RESTORED: _("Restored"),
    HistoryAction.MEMBERS_ASSIGNED: _("Members added"),
    HistoryAction.MEMBERS_REMOVED: _("Members removed"),
    HistoryAction.BENEFIT_CREATED: _("Benefit added"),
    HistoryAction.BENEFIT_UPDATED: _("Benefit changed"),
    HistoryAction.BENEFIT_DELETED: _("Benefit deleted"),
    HistoryAction.RULE_UPDATED: _("Rule changed"),
    HistoryAction.RULE_DELETED: _("Rule removed"),
    HistoryAction.MEMBERSHIP_REFRESHED: _("Members refreshed"),
}

# whether an entry's events went out (``event_delivery``): its words and its badge
DELIVERY = {
    EventStatus.PUBLISHED: (_("Sent"), "active"),
    EventStatus.PENDING: (_("Waiting to be sent"), "pending"),
    EventStatus.DEAD: (_("Failed — not sent"), "suspended"),
}

MEMBERS_NAMED = 10

FIELD_LABELS = {
    "name": _("Name"),
    "description": _("Description"),
    "status": _("Status"),
}


def status_label(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))


@dataclass
class Change:
    """One line of an entry: ``label: before → after`` (either side may be absent)."""

    label: str
    before: str | None = None
    after: str | None = None
    initial: bool = False  # a value the segment was created (or restored) with


@dataclass
class HistoryEntry:
    when: Any
    who: str
    action: str
    kind: str
    summary: str = ""
    members: str = ""  # the members added or removed, by name
    changes: list[Change] = field(default_factory=list)
    delivery: str = ""  # its events: published, pending, dead, or "" (none)
    delivery_label: str = ""
    delivery_badge: str = ""


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return metadata_value_text(value)


def _status_text(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("code")
    return status_label(value) if value else "—"


def member_counts_in_words(payload: Mapping[str, Any] | None) -> list[str]:
    """``["3 accounts", "1 portfolio"]`` for a members payload (kinds with none left out)."""
    payload = payload or {}
    accounts, portfolios = payload.get("accounts") or 0, payload.get("portfolios") or 0
    parts = []
    if accounts:
        parts.append(
            ngettext("%(count)s account", "%(count)s accounts", accounts) % {"count": accounts}
        )
    if portfolios:
        parts.append(
            ngettext("%(count)s portfolio", "%(count)s portfolios", portfolios)
            % {"count": portfolios}
        )
    return parts


def _members(payload: Mapping[str, Any] | None) -> str:
    parts = member_counts_in_words(payload)
    return gettext(" and ").join(parts) if parts else gettext("no members")


MemberLabels = dict[str, str]


def _named_ids(payload: Mapping[str, Any] | None, kind: str) -> list[str]:
    return [str(pk) for pk in ((payload or {}).get(kind) or [])[:MEMBERS_NAMED]]


def _member_payload(entry: SegmentHistory) -> Mapping[str, Any]:
    if entry.action == HistoryAction.MEMBERS_ASSIGNED:
        return entry.after or {}
    if entry.action == HistoryAction.MEMBERS_REMOVED:
        return entry.before or {}
    return {}


def member_labels(entries: Iterable[SegmentHistory]) -> MemberLabels:
    """The names of the members that these entries added or removed (at most ten an
    entry): an account by its alias, else its name; a portfolio by its name; a member
    that no longer exists by its id. One query per kind for all the entries."""
    account_ids: set[str] = set()
    portfolio_ids: set[str] = set()
    for entry in entries:
        payload = _member_payload(entry)
        account_ids.update(_named_ids(payload, "accountIds"))
        portfolio_ids.update(_named_ids(payload, "portfolioIds"))
    labels: MemberLabels = {}
    if account_ids:
        for pk, alias, name in Account.all_objects.filter(pk__in=account_ids).values_list(
            "pk", "alias", "name"
        ):
            labels[str(pk)] = alias or name or str(pk)
    if portfolio_ids:
        for pk, name in Portfolio.all_objects.filter(pk__in=portfolio_ids).values_list(
            "pk", "name"
        ):
            labels[str(pk)] = name or str(pk)
    return labels


def members_named(payload: Mapping[str, Any], labels: MemberLabels) -> str:
    """``@ana, @bruno and 3 more``: up to ten members by name, then how many more."""
    total = (payload.get("accounts") or 0) + (payload.get("portfolios") or 0)
    ids = _named_ids(payload, "accountIds") + _named_ids(payload, "portfolioIds")
    names = [labels.get(pk, pk) for pk in ids[:MEMBERS_NAMED]]
    if not names:
        return ""
    named = ", ".join(names)
    more = total - len(names)
    if more > 0:
        return ngettext("%(names)s and %(count)s more", "%(names)s and %(count)s more", more) % {
            "names": named,
            "count": more,
        }
    return named


def _field_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, initial: bool = False
) -> list[Change]:
    """Field by field, then metadata key by key. The scope (ledgerId) never changes and
    is not shown."""
    changes: list[Change] = []
    for key in ("name", "description", "status"):
        if key in before or key in after:
            show = _status_text if key == "status" else _text
            old = show(before.get(key)) if key in before else None
            new = show(after.get(key)) if key in after else None
            if old != new:
                changes.append(Change(str(FIELD_LABELS[key]), old, new, initial))
    old_meta = before.get("metadata") or {}
    new_meta = after.get("metadata") or {}
    for key in sorted(set(old_meta) | set(new_meta)):
        old = _text(old_meta[key]) if key in old_meta else None
        new = _text(new_meta[key]) if key in new_meta else None
        if old != new:
            label = gettext("Metadata “%(key)s”") % {"key": key}
            changes.append(Change(label, old, new, initial))
    return changes


def history_entry(entry: SegmentHistory, labels: MemberLabels | None = None) -> HistoryEntry:
    """One entry in words; ``labels`` names its members (``member_labels``)."""
    labels = labels if labels is not None else member_labels([entry])
    before, after = entry.before or {}, entry.after or {}
    item = HistoryEntry(
        when=entry.created_at,
        who=entry.actor_name,
        action=str(ACTION_LABELS.get(entry.action, entry.action)),
        kind=entry.action,
    )
    if entry.action in (HistoryAction.CREATED, HistoryAction.RESTORED):
        item.changes = _field_changes({}, after, initial=True)
    elif entry.action == HistoryAction.UPDATED:
        item.changes = _field_changes(before, after)
        if not item.changes:
            item.summary = gettext("Saved without changes.")
    elif entry.action == HistoryAction.DELETED:
        item.summary = _deleted_summary(before)
    elif entry.action == HistoryAction.MEMBERS_ASSIGNED:
        item.summary = gettext("Added %(members)s.") % {"members": _members(after)}
        item.members = members_named(after, labels)
    elif entry.action == HistoryAction.MEMBERS_REMOVED:
        item.summary = gettext("Removed %(members)s.") % {"members": _members(before)}
        item.members = members_named(before, labels)
    elif entry.action in BENEFIT_ACTIONS:
        item.summary, item.changes = benefit_change(entry.action, before, after)
    elif entry.action in (HistoryAction.RULE_UPDATED, HistoryAction.RULE_DELETED):
        item.summary = rule_change(before, after)
    elif entry.action == HistoryAction.MEMBERSHIP_REFRESHED:
        item.summary = refresh_summary(after)
    return item


def refresh_summary(after: Mapping[str, Any]) -> str:
    """A finished refresh in the segment's history: what it evaluated and moved."""
    return gettext(
        "Rule version %(version)s re-evaluated over %(scanned)s rows: "
        "%(added)s joined a segment, %(removed)s left one."
    ) % {
        "version": after.get("ruleVersion") or "—",
        "scanned": after.get("scanned", 0),
        "added": after.get("added", 0),
        "removed": after.get("removed", 0),
    }


def rule_change(before: Mapping[str, Any], after: Mapping[str, Any] | None) -> str:
    """A rule's entry in the segment's history: its new version, or what its removal did
    to its members."""
    if after and "expression" in after:
        return gettext("Rule version %(version)s, priority %(priority)s: %(expression)s") % after
    counts = {"members": _members(after)}
    if (after or {}).get("keepMembers"):
        return gettext("Rule removed; its %(members)s stay as manual members.") % counts
    return gettext("Rule removed; its %(members)s left the segment.") % counts


def _deleted_summary(before: Mapping[str, Any]) -> str:
    detached = before.get("detached") or {}
    summary = gettext("Deleted.")
    if detached.get("accounts") or detached.get("portfolios"):
        summary = gettext("Deleted; detached %(members)s.") % {"members": _members(detached)}
    benefits = before.get("benefitsDeleted") or 0
    if benefits:
        summary += " " + ngettext(
            "%(count)s benefit deleted with it.", "%(count)s benefits deleted with it.", benefits
        ) % {"count": benefits}
    return summary


BENEFIT_ACTIONS = (
    HistoryAction.BENEFIT_CREATED,
    HistoryAction.BENEFIT_UPDATED,
    HistoryAction.BENEFIT_DELETED,
)
BENEFIT_FIELD_LABELS = {
    "priority": _("Priority"),
    "exclusivityGroup": _("Exclusivity group"),
}


def _benefit_state(state: Mapping[str, Any], key: str) -> str | None:
    if key == "parameters":
        return parameters_in_words(state.get("kind", ""), state.get("parameters"))
    if key == "window":
        return window_in_words(state.get("validFrom"), state.get("validUntil"))
    if key == "status":
        return _status_text(state.get("status"))
    return _text(state.get(key))


def benefit_change(
    action: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[str, list[Change]]:
    """A benefit's entry in the segment's history: a sentence, and what changed."""
    name = (after or before).get("name") or before.get("name")
    if action == HistoryAction.BENEFIT_CREATED:
        grant = parameters_in_words(after.get("kind", ""), after.get("parameters"))
        return gettext("Benefit “%(name)s”: %(grant)s.") % {"name": name, "grant": grant}, []
    if action == HistoryAction.BENEFIT_DELETED:
        return gettext("Benefit “%(name)s” deleted.") % {"name": before.get("name")}, []
    labels = {
        "name": FIELD_LABELS["name"],
        "parameters": _("Grants"),
        "window": _("Valid"),
        "status": FIELD_LABELS["status"],
        **BENEFIT_FIELD_LABELS,
    }
    changes = []
    for key, label in labels.items():
        keys = ("validFrom", "validUntil") if key == "window" else ("kind", key)
        if not any(part in before or part in after for part in (*keys, key)):
            continue
        old = _benefit_state({**after, **before}, key)
        new = _benefit_state({**before, **after}, key)
        if old != new:
            changes.append(Change(str(label), old, new))
    return gettext("Benefit “%(name)s” changed.") % {"name": name}, changes


def history_entries(entries: Iterable[SegmentHistory]) -> list[HistoryEntry]:
    """A page of entries in words, their members' names and whether their events went out
    looked up once for the page."""
    entries = list(entries)
    labels, delivered = member_labels(entries), outcomes(entries)
    items = []
    for entry in entries:
        item = history_entry(entry, labels)
        if entry.pk in delivered:
            item.delivery = delivered[entry.pk]
            label, item.delivery_badge = DELIVERY[item.delivery]
            item.delivery_label = str(label)
        items.append(item)
    return items
