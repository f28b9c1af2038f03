"""The console's rule form: the expression, its subject and priority, parsed from what the
browser sent into the arguments of ``services.put_rule``; every rule of a rule is the
services' (``services.rules``, ``segments.rules``), whose refusals come back beside the
field they name (``RuleForm.add_refusal``): 0047 under the expression, pointing at the
position, 9011 beside the priority, naming the segment that has it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments import errors
from segments.console.forms import add_domain_error
from segments.console.rule_words import RuleError, rule_error, subject_choices
from segments.console.views.scope import segment_url
from segments.models import RuleSubject, Segment, SegmentRule

PRIORITY_MAX = 2**31 - 1


class RuleForm(forms.Form):
    """Make a segment dynamic, or change its rule. Line breaks arrive as CR LF from a
    textarea; they are kept as LF, as the API's clients write them."""

    expression = forms.CharField(
        label=_("Rule"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "autocomplete": "off"}),
    )
    subject = forms.ChoiceField(label=_("Members are"), choices=subject_choices)
    priority = forms.IntegerField(
        label=_("Priority"),
        min_value=0,
        max_value=PRIORITY_MAX,
        help_text=_("Unique in the organization; an account several rules match joins the lowest."),
    )

    def __init__(self, *args: Any, segment: Segment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.segment = segment
        self.rule_error: RuleError | None = None
        self.holder: Segment | None = None

    @classmethod
    def for_rule(cls, segment: Segment, rule: SegmentRule | None) -> RuleForm:
        """The form filled with the segment's rule, or empty for a manual segment."""
        initial = {"subject": RuleSubject.ACCOUNT.value}
        if rule is not None:
            initial = {
                "expression": rule.expression,
                "subject": rule.subject,
                "priority": rule.priority,
            }
        return cls(segment=segment, initial=initial)

    def clean_expression(self) -> str:
        return self.cleaned_data["expression"].replace("\r\n", "\n")

    @property
    def holder_url(self) -> str:
        """The page of the segment that has the priority asked (after a 9011)."""
        return segment_url(self.holder) if self.holder else ""

    @property
    def chosen_subject(self) -> str:
        """The subject shown (what was sent, else the initial one): its field hints."""
        if self.is_bound:
            return self.data.get("subject") or RuleSubject.ACCOUNT.value
        return self.initial.get("subject") or RuleSubject.ACCOUNT.value

    def add_refusal(self, exc: errors.DomainError) -> str | None:
        """The services' refusal beside its field, in the reader's words. Returns the text
        of what belongs to no field (for a toast), or None."""
        if isinstance(exc, errors.InvalidRule) and "expression" in exc.fields:
            self.rule_error = rule_error(exc, self.cleaned_data.get("expression", ""))
            self.add_error("expression", self.rule_error.message)
            return None
        if isinstance(exc, errors.InvalidRule) and "subject" in exc.fields:
            self.add_error("subject", gettext("Choose accounts or portfolios."))
            return None
        if isinstance(exc, errors.DuplicateRulePriority):
            self.holder = priority_holder(self.segment, self.cleaned_data["priority"])
            self.add_error("priority", priority_taken_text(self.holder))
            return None
        return add_domain_error(self, exc)


def priority_holder(segment: Segment, priority: int) -> Segment | None:
    """The dynamic segment of the organization that has ``priority`` (same tenant)."""
    rule = (
        SegmentRule.objects.filter(organization_id=segment.organization_id, priority=priority)
        .exclude(segment_id=segment.pk)
        .select_related("segment")
        .first()
    )
    return rule.segment if rule else None


def priority_taken_text(holder: Segment | None) -> str:
    if holder is None:
        return gettext("Another dynamic segment of this organization has this priority.")
    return gettext(
        "The dynamic segment “%(name)s” already has this priority: choose another number."
    ) % {"name": holder.name}


def preview_priority(raw: Any) -> int | None:
    """The priority typed so far, for the preview (None while it is not a whole number)."""
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if 0 <= value <= PRIORITY_MAX else None
