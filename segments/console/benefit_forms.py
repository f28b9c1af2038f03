"""The console's benefit form: the common fields and, per kind, the fields of its
parameters, named by where the services' refusals point (``parameters.cap.amount``), so a
refusal lands beside the field it names. The form only parses what the browser sent
(text → decimal strings, integers, UTC instants); every rule of a benefit is the
services' (``services.benefits``, ``benefit_kinds``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments import errors
from segments.benefit_kinds import DECIMAL_RANGES, PARAMETER_SCHEMAS
from segments.console.benefit_words import KIND_LABELS
from segments.console.forms import add_domain_error, status_choices
from segments.models import Benefit, BenefitKind

PERIOD_CHOICES = [("", "—"), ("day", _("Day")), ("month", _("Month")), ("year", _("Year"))]
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


@dataclass(frozen=True)
class ParameterField:
    """One field of a kind's parameters: where it goes in ``parameters``, the kinds that
    have it, and how its text becomes the parameter's value."""

    path: str
    kinds: tuple[str, ...]
    make: Callable[[], forms.Field]
    to_value: Callable[[Any], Any] = lambda value: value


def _text(label: Any, help_text: Any = "") -> Callable[[], forms.Field]:
    return lambda: forms.CharField(label=label, required=False, help_text=help_text)


def _integer(label: Any) -> Callable[[], forms.Field]:
    return lambda: forms.IntegerField(label=label, required=False)


def _period(label: Any) -> Callable[[], forms.Field]:
    return lambda: forms.ChoiceField(label=label, required=False, choices=PERIOD_CHOICES)


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


K = BenefitKind
PARAMETER_FIELDS = (
    ParameterField(
        "parameters.feeKeys",
        (K.FEE_WAIVER,),
        _text(_("Fees waived"), _("Fee keys, separated by commas; empty waives every fee.")),
        _list,
    ),
    ParameterField(
        "parameters.percentage",
        (K.FEE_DISCOUNT, K.CASHBACK),
        _text(_("Percentage"), _("A decimal, e.g. 2.5 (more than 0, at most 100).")),
    ),
    ParameterField("parameters.amount", (K.FEE_DISCOUNT,), _text(_("Amount off"))),
    ParameterField(
        "parameters.assetCode", (K.FEE_DISCOUNT, K.CASHBACK), _text(_("Asset"), _("e.g. BRL."))
    ),
    ParameterField("parameters.cap.amount", (K.CASHBACK,), _text(_("Cap amount"))),
    ParameterField("parameters.cap.period", (K.CASHBACK,), _period(_("Cap period"))),
    ParameterField(
        "parameters.transactionRoute", (K.FEE_WAIVER, K.CASHBACK), _text(_("Transaction route"))
    ),
    ParameterField("parameters.basisPoints", (K.RATE_BONUS,), _integer(_("Basis points"))),
    ParameterField(
        "parameters.appliesTo", (K.RATE_BONUS,), _text(_("Applies to"), _("e.g. savings."))
    ),
    ParameterField(
        "parameters.multiplier",
        (K.POINTS_MULTIPLIER,),
        _text(_("Multiplier"), _("A decimal from 1 to 100, e.g. 1.5.")),
    ),
    ParameterField("parameters.serviceCode", (K.SERVICE,), _text(_("Service code"))),
    ParameterField("parameters.provider", (K.SERVICE,), _text(_("Provider"))),
    ParameterField("parameters.allowance.count", (K.SERVICE,), _integer(_("Allowance"))),
    ParameterField("parameters.allowance.period", (K.SERVICE,), _period(_("Allowance period"))),
)


def _custom_pairs(text: str) -> dict[str, str]:
    """``key = value`` lines as a flat map; a line without ``=`` is refused."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(gettext("Write one key = value per line."))
        pairs[key.strip()] = value.strip()
    return pairs


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """The instant typed, read as UTC (the form says its times are UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class BenefitForm(forms.Form):
    """A benefit's fields; ``kind`` picks which parameter fields exist (a change of kind
    redraws the dialog). ``etag`` carries the version an edit started from."""

    name = forms.CharField(label=_("Name"), max_length=256)
    kind = forms.ChoiceField(label=_("Kind"), choices=list(KIND_LABELS.items()))
    description = forms.CharField(
        label=_("Description"), required=False, max_length=1000, widget=forms.Textarea
    )
    status = forms.ChoiceField(label=_("Status"))
    priority = forms.IntegerField(
        label=_("Priority"), required=False, help_text=_("Lower wins in its group; 100 if empty.")
    )
    exclusivity_group = forms.CharField(
        label=_("Exclusivity group"),
        required=False,
        max_length=100,
        help_text=_("Benefits of one group do not stack: only the lowest priority applies."),
    )
    valid_from = forms.DateTimeField(
        label=_("Valid from (UTC)"), required=False, widget=DATETIME_INPUT
    )
    valid_until = forms.DateTimeField(
        label=_("Valid until (UTC)"),
        required=False,
        widget=DATETIME_INPUT,
        help_text=_("Not included: the benefit ends at that instant."),
    )
    custom = forms.CharField(
        label=_("Parameters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One key = value per line."),
    )
    etag = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, benefit: Benefit | None = None, **kwargs: Any) -> None:
        if benefit is not None and not args and "initial" in kwargs:
            kwargs["initial"] = {**initial_from(benefit), **kwargs["initial"]}
        super().__init__(*args, **kwargs)
        self.benefit = benefit
        self.conflict: Benefit | None = None
        self.fields["status"].choices = status_choices(benefit.status_code if benefit else None)
        self.kind_value = self._selected_kind()
        self.parameter_fields = [f for f in PARAMETER_FIELDS if self.kind_value in f.kinds]
        required = set(PARAMETER_SCHEMAS[self.kind_value].get("required", ()))
        for spec in self.parameter_fields:
            self.fields[spec.path] = spec.make()
            # The kind's schema says which are required; the services check it again.
            self.fields[spec.path].required = spec.path.split(".")[1] in required and (
                spec.path.count(".") == 1
            )
        if self.kind_value != K.CUSTOM:
            del self.fields["custom"]

    def _selected_kind(self) -> str:
        source = self.data if self.is_bound else self.initial
        kind = source.get("kind") or K.CASHBACK
        return kind if kind in KIND_LABELS else K.CASHBACK

    def parameter_boundfields(self) -> list[forms.BoundField]:
        return [self[spec.path] for spec in self.parameter_fields]

    def clean_custom(self) -> dict[str, str]:
        return _custom_pairs(self.cleaned_data.get("custom") or "")

    def parameters(self) -> dict[str, Any]:
        """The parameters typed, nested as the kind takes them; empty fields left out."""
        if self.kind_value == K.CUSTOM:
            return dict(self.cleaned_data.get("custom") or {})
        parameters: dict[str, Any] = {}
        for spec in self.parameter_fields:
            value = self.cleaned_data.get(spec.path)
            if value in (None, "", []):
                continue
            value = spec.to_value(value.strip() if isinstance(value, str) else value)
            if value in (None, "", []):
                continue
            *parents, key = spec.path.split(".")[1:]
            target = parameters
            for parent in parents:
                target = target.setdefault(parent, {})
            target[key] = value
        return parameters

    def fields_for_service(self) -> dict[str, Any]:
        """The service's arguments: every field of the benefit, as typed."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kind": self.kind_value,
            "description": data.get("description") or "",
            "status_code": data["status"],
            "priority": data.get("priority"),
            "exclusivity_group": (data.get("exclusivity_group") or "").strip() or None,
            "valid_from": _as_utc(data.get("valid_from")),
            "valid_until": _as_utc(data.get("valid_until")),
            "parameters": self.parameters(),
        }

    def add_refusal(self, exc: errors.DomainError, rival: Benefit | None = None) -> str | None:
        """The services' refusal beside its field, in the reader's words; the benefit a
        9012 conflicts with is kept for its link. Returns the text of what belongs to no
        field (for a toast), or None."""
        if isinstance(exc, errors.AmbiguousBenefits):
            self.conflict = rival
            self.add_error("exclusivity_group", ambiguity_text(rival))
            return None
        if isinstance(exc, errors.DuplicateBenefitName):
            self.add_error("name", gettext("This segment already has a benefit with this name."))
            return None
        placed = False
        for location, detail in exc.fields.items():
            name = self._field_for(location)
            if name is not None:
                self.add_error(name, self._parameter_text(location, detail))
                placed = True
        return None if placed else add_domain_error(self, exc, entity="benefit")

    def _field_for(self, location: str) -> str | None:
        if location in self.fields:
            return location
        if location == "parameters" and self.parameter_fields:
            return self.parameter_fields[0].path
        if location == "parameters" and "custom" in self.fields:
            return "custom"
        if location.startswith("parameters.") and "custom" in self.fields:
            return "custom"
        return None

    def _parameter_text(self, location: str, detail: str) -> str:
        bounds = DECIMAL_RANGES.get((self.kind_value, location.removeprefix("parameters.")))
        if bounds is not None and detail.startswith("must be"):
            return range_text(*bounds)
        if detail == "required":
            return gettext("This field is required.")
        if "does not match" in detail:
            return gettext("Enter a decimal number, e.g. 2.5.")
        if location == "valid_until":
            return gettext("The end must be after the start.")
        if location == "parameters" and self.kind_value == K.FEE_DISCOUNT:
            return gettext("Give either a percentage or an amount with its asset, not both.")
        return detail


def range_text(lowest: Decimal, inclusive: bool, highest: Decimal | None) -> str:
    """A decimal parameter's range in words."""
    values = {"low": lowest, "high": highest}
    if highest is None:
        return gettext("Must be more than %(low)s.") % values
    if inclusive:
        return gettext("Must be from %(low)s to %(high)s.") % values
    return gettext("Must be more than %(low)s and at most %(high)s.") % values


def ambiguity_text(rival: Benefit | None) -> str:
    if rival is None:
        return gettext("Another active benefit has this group, priority and an overlapping window.")
    return gettext(
        "“%(name)s” is also active in this group with this priority and an overlapping "
        "window: give one another priority, group or window."
    ) % {"name": rival.name}


def initial_from(benefit: Benefit) -> dict[str, Any]:
    """The form's fields as the benefit has them."""
    initial: dict[str, Any] = {
        "name": benefit.name,
        "kind": benefit.kind,
        "description": benefit.description,
        "status": benefit.status_code,
        "priority": benefit.priority,
        "exclusivity_group": benefit.exclusivity_group or "",
        "valid_from": benefit.valid_from,
        "valid_until": benefit.valid_until,
    }
    parameters: Mapping[str, Any] = benefit.parameters or {}
    if benefit.kind == K.CUSTOM:
        initial["custom"] = "\n".join(f"{key} = {value}" for key, value in parameters.items())
    for spec in PARAMETER_FIELDS:
        value: Any = parameters
        for part in spec.path.split(".")[1:]:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None:
            initial[spec.path] = ", ".join(value) if isinstance(value, list) else value
    return initial
