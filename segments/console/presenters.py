"""Words for what the console shows: status labels, and segment history entries
rendered readably (who, what, when, before → after)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from segments.models import HistoryAction, SegmentHistory, Status
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
}

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
    changes: list[Change] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return metadata_value_text(value)


def _status_text(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("code")
    return status_label(value) if value else "—"


def _members(payload: Mapping[str, Any] | None) -> str:
    payload = payload or {}
    accounts, portfolios = payload.get("accounts", 0), payload.get("portfolios", 0)
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
    return gettext(" and ").join(parts) if parts else gettext("no members")


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


def history_entry(entry: SegmentHistory) -> HistoryEntry:
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
        detached = before.get("detached") or {}
        if detached.get("accounts") or detached.get("portfolios"):
            item.summary = gettext("Deleted; detached %(members)s.") % {
                "members": _members(detached)
            }
        else:
            item.summary = gettext("Deleted.")
    elif entry.action == HistoryAction.MEMBERS_ASSIGNED:
        item.summary = gettext("Added %(members)s.") % {"members": _members(after)}
    elif entry.action == HistoryAction.MEMBERS_REMOVED:
        item.summary = gettext("Removed %(members)s.") % {"members": _members(before)}
    return item


def history_entries(entries: Iterable[SegmentHistory]) -> list[HistoryEntry]:
    return [history_entry(entry) for entry in entries]
