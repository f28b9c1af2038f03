"""A dynamic segment's rule in words, for the console: the field hints of the catalogue
(``segments.rules.catalogue``: names and what each holds, per subject), a refused rule's
position (line, column and a caret line under the offending token), a refresh's status,
a preview's answer and an account's explanation as the pages show them. No query here:
each function shapes what a service or a selector already returned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments import errors
from segments.models import RefreshCause, RefreshStatus, RuleRefresh, RuleSubject
from segments.rules import catalogue

SUBJECT_LABELS = {RuleSubject.ACCOUNT: _("Accounts"), RuleSubject.PORTFOLIO: _("Portfolios")}
FIELD_KINDS = {
    catalogue.Kind.TEXT: _("text"),
    catalogue.Kind.BOOL: _("true or false"),
    catalogue.Kind.UUID: _("an ID"),
    catalogue.Kind.TIMESTAMP: _("an instant"),
    catalogue.Kind.JSON: _("a metadata value: text, number or true/false"),
}
# Alike in shape to STATUS_LABELS (console/presenters.py); kept apart because each maps
# its own choices to the words the console shows for them.
REFRESH_STATUS_LABELS = {
    RefreshStatus.QUEUED: _("Queued"),
    RefreshStatus.RUNNING: _("Running"),
    RefreshStatus.DONE: _("Done"),
    RefreshStatus.FAILED: _("Failed"),
}
REFRESH_BADGES = {
    RefreshStatus.QUEUED: "pending",
    RefreshStatus.RUNNING: "pending",
    RefreshStatus.DONE: "active",
    RefreshStatus.FAILED: "suspended",
}
REFRESH_CAUSES = {
    RefreshCause.RULE: _("the rule changed"),
    RefreshCause.REQUESTED: _("asked by hand"),
    RefreshCause.SCHEDULE: _("the schedule of rules that read now"),
    RefreshCause.BULK: _("a bulk load"),
}
UNFINISHED = (RefreshStatus.QUEUED, RefreshStatus.RUNNING)


def subject_choices() -> list[tuple[str, Any]]:
    return [(subject.value, label) for subject, label in SUBJECT_LABELS.items()]


def subject_label(subject: str) -> str:
    return str(SUBJECT_LABELS.get(subject, subject))


@dataclass(frozen=True)
class FieldHint:
    """One catalogue name a rule may read and what it holds."""

    name: str
    kind: str


def field_hints(subject: str) -> list[FieldHint]:
    """The catalogue of ``subject`` (account when unknown): its typed names, then the
    metadata prefixes (``metadata.<key>``)."""
    try:
        chosen = catalogue.Subject(subject)
    except ValueError:
        chosen = catalogue.Subject.ACCOUNT
    hints = [
        FieldHint(name, str(FIELD_KINDS[column.kind]))
        for name, column in catalogue.TYPED_COLUMNS[chosen].items()
    ]
    hints += [
        FieldHint(f"{prefix}.<key>", str(FIELD_KINDS[catalogue.Kind.JSON]))
        for prefix in catalogue.METADATA_PREFIXES[chosen]
    ]
    return hints


# --------------------------------------------------------------------------- a refused rule


@dataclass(frozen=True)
class RuleError:
    """Where a rule was refused: the words, and — when the refusal names a position — the
    line of the rule there with a caret line (spaces, then ``^`` under the token)."""

    message: str
    line: int | None = None
    column: int | None = None
    token: str = ""
    source_line: str = ""
    caret: str = ""


def rule_error(exc: errors.InvalidRule, text: str) -> RuleError:
    """``exc`` (0047) pointed at in ``text``: the line, the column, the token."""
    reason = exc.message.split(" at line ")[0].rstrip(".")
    line, column = getattr(exc, "line", None), getattr(exc, "column", None)
    if not line or not column:
        return RuleError(gettext("The rule is not valid: %(reason)s.") % {"reason": reason})
    lines = text.replace("\r\n", "\n").split("\n")
    source = lines[line - 1] if line <= len(lines) else ""
    token = (getattr(exc, "token", "") or "").split("\n")[0]
    start = min(column - 1, len(source))
    width = max(1, min(len(token), len(source) - start) if token else 1)
    # Tabs stay tabs, so the caret sits under the token however wide a tab is drawn.
    padding = "".join("\t" if char == "\t" else " " for char in source[:start])
    message = gettext("Line %(line)s, column %(column)s: %(reason)s.") % {
        "line": line,
        "column": column,
        "reason": reason,
    }
    return RuleError(message, line, column, token, source, padding + "^" * width)


# --------------------------------------------------------------------------- refreshes


def describe_refresh(refresh: RuleRefresh | None) -> dict[str, Any] | None:
    """A refresh as its status panel shows it; ``active`` while it is queued or running
    (the panel polls until then)."""
    if refresh is None:
        return None
    return {
        "run": refresh,
        "status_label": str(REFRESH_STATUS_LABELS.get(refresh.status, refresh.status)),
        "badge": REFRESH_BADGES.get(refresh.status, "pending"),
        "cause": str(REFRESH_CAUSES.get(refresh.cause, refresh.cause)),
        "active": refresh.status in UNFINISHED,
        "failed": refresh.status == RefreshStatus.FAILED,
    }


# --------------------------------------------------------------------------- explanation


def explanation_rows(
    explanation: Mapping[str, Any], links: Mapping[str, str], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each candidate rule of an account's explanation with the link to its segment,
    whether it is the account's, and the segment it lost to by name and link (``links``:
    segment id → URL; ``names``: segment id → name)."""
    rows = []
    for candidate in explanation["candidates"]:
        lost_to = candidate.get("lostTo")
        rows.append(
            {
                **candidate,
                "url": links.get(candidate["segmentId"]),
                "member": candidate["segmentId"] == explanation["segmentId"],
                "lost_to": {"name": names.get(lost_to, lost_to), "url": links.get(lost_to)}
                if lost_to
                else None,
            }
        )
    return rows
