"""Console forms. They parse what the browser sent into the arguments of the service
functions; the rules themselves live in the services, whose refusals come back here as
field errors (``add_domain_error``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments import errors
from segments.console.presenters import STATUS_LABELS
from segments.ids import uuid_or_none
from segments.models import Account, Portfolio, Segment, Status
from segments.ratelimit import SignInLimitFormMixin
from segments.validators import (
    INVALID_CHARACTERS,
    METADATA_KEY_MAX_LENGTH,
    METADATA_KEY_TOO_LONG,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX_LENGTH,
    METADATA_VALUE_TOO_LONG,
    metadata_value_text,
    validate_metadata,
)


def status_choices(current: str | None = None) -> list[tuple[str, Any]]:
    """Active and Inactive, plus the current status when it is another one."""
    codes = [Status.ACTIVE, Status.INACTIVE]
    if current and current not in codes:
        codes.append(current)
    return [(code, STATUS_LABELS.get(code, code)) for code in codes]


def _max_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# --------------------------------------------------------------------------- domain errors


NOT_ACTIVE_TEXT = _("This segment is not active; only active segments accept members.")
# A refusal's words beside the field it names, the first class that matches.
FIELD_REFUSALS: tuple[tuple[type[errors.DomainError], Any], ...] = (
    (errors.DuplicateAlias, _("An account with this alias already exists in this ledger.")),
    (errors.MissingFields, _("This field is required.")),
    (errors.SegmentNotFound, _("Choose a segment of this ledger or of its organization.")),
    (errors.SegmentNotActive, NOT_ACTIVE_TEXT),
    (errors.DynamicSegmentAssignment, _("This segment is dynamic: its rule chooses its members.")),
    (errors.PortfolioNotFound, _("Choose a portfolio of this ledger.")),
    (errors.MetadataKeyTooLong, _("A metadata key may have at most 100 characters.")),
    (errors.MetadataValueTooLong, _("A metadata value may have at most 2000 characters.")),
    (errors.NestedMetadata, _("Metadata values must be text, numbers or true/false.")),
)


def domain_error_text(
    exc: errors.DomainError, field: str, *, organization_level: bool = False
) -> str:
    """The console's (translated) words for a refusal of the services on one field."""
    if isinstance(exc, errors.DuplicateSegmentName):
        if organization_level:
            return gettext("A segment with this name already exists in this organization.")
        return gettext("A segment with this name already exists in this ledger.")
    for refusal, text in FIELD_REFUSALS:
        if isinstance(exc, refusal):
            return str(text)
    return exc.fields.get(field) or exc.message


def non_field_text(exc: errors.DomainError, entity: str = "segment") -> str:
    """The console's words for a refusal that belongs to no single field."""
    if isinstance(exc, errors.PreconditionFailed):
        if entity == "segment":
            return gettext(
                "This segment changed since you opened it. Reload it to see the changes."
            )
        return gettext("This record changed since you opened it. Reload it to see the changes.")
    if isinstance(exc, errors.SegmentHasMembers):
        return gettext("This segment still has members.")
    if isinstance(exc, errors.SegmentNotActive):
        return str(NOT_ACTIVE_TEXT)
    if isinstance(exc, errors.EntityNotFound):
        return gettext("It was deleted meanwhile.")
    return exc.message


def add_domain_error(
    form: forms.Form,
    exc: errors.DomainError,
    *,
    organization_level: bool = False,
    entity: str = "segment",
) -> str | None:
    """Put the service's refusal beside the fields it names; returns the text of what
    belongs to no field (for a toast), or None."""
    placed = False
    for name in exc.fields:
        if name in form.fields:
            form.add_error(
                name, domain_error_text(exc, name, organization_level=organization_level)
            )
            placed = True
    if placed:
        return None
    text = non_field_text(exc, entity)
    form.add_error(None, text)
    return text


# --------------------------------------------------------------------------- segments


METADATA_ROW_ERRORS = {
    METADATA_KEY_TOO_LONG: lambda: (
        gettext("A key may have at most %(max)s characters.") % {"max": METADATA_KEY_MAX_LENGTH}
    ),
    METADATA_VALUE_TOO_LONG: lambda: (
        gettext("A value may have at most %(max)s characters.") % {"max": METADATA_VALUE_MAX_LENGTH}
    ),
    INVALID_CHARACTERS: lambda: gettext(
        "Keys and values may not contain control characters (tab and line breaks are allowed)."
    ),
    None: lambda: gettext("This entry is not valid."),
}


@dataclass
class MetadataRow:
    key: str
    value: str
    error: str = ""


class SegmentForm(forms.Form):
    """Create or edit a segment. Metadata comes as parallel ``metadata_key`` /
    ``metadata_value`` lists (the editor's rows); blank rows are ignored, a key given
    twice is an error on the second row — never a silent overwrite."""

    name = forms.CharField(label=_("Name"), max_length=_max_length(Segment, "name"))
    status = forms.ChoiceField(label=_("Status"), choices=status_choices)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=_max_length(Segment, "description"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    metadata = forms.Field(required=False, label=_("Metadata"))
    form_token = forms.CharField(required=False, widget=forms.HiddenInput)
    etag = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, segment: Segment | None = None, **kwargs: Any) -> None:
        self.segment = segment
        initial = kwargs.pop("initial", {}) or {}
        if segment is not None:
            initial = {
                "name": segment.name,
                "status": segment.status_code,
                "description": segment.description or "",
            } | initial
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["status"].choices = status_choices(segment.status_code if segment else None)
        if self.is_bound:
            self.metadata_rows = self._rows_from(self.data)
        else:
            current = segment.metadata if segment else {}
            self.metadata_rows = [
                MetadataRow(str(key), metadata_value_text(value)) for key, value in current.items()
            ]

    @staticmethod
    def _rows_from(data: Any) -> list[MetadataRow]:
        keys = data.getlist("metadata_key") if hasattr(data, "getlist") else []
        values = data.getlist("metadata_value") if hasattr(data, "getlist") else []
        rows = [
            MetadataRow(key, values[index] if index < len(values) else "")
            for index, key in enumerate(keys)
        ]
        return [row for row in rows if row.key.strip() or row.value.strip()]

    def clean_metadata(self) -> dict[str, str]:
        desired: dict[str, str] = {}
        for row in self.metadata_rows:
            key = row.key.strip()
            if not key:
                row.error = gettext("Give this value a key.")
            elif key in desired:
                row.error = gettext("The key “%(key)s” is already used above.") % {"key": key}
            else:
                try:
                    validate_metadata({key: row.value})
                except ValidationError as exc:
                    row.error = METADATA_ROW_ERRORS.get(exc.code, METADATA_ROW_ERRORS[None])()
            if not row.error:
                desired[key] = row.value
        if any(row.error for row in self.metadata_rows):
            raise ValidationError(gettext("Correct the metadata rows marked below."))
        if len(desired) > METADATA_MAX_KEYS:
            raise ValidationError(
                gettext("A segment may have at most %(max)s metadata entries.")
                % {"max": METADATA_MAX_KEYS}
            )
        return desired

    def create_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "status_code": data["status"],
            "description": _blank_to_none(data["description"]),
            "metadata": data["metadata"],
        }

    def changes(self) -> dict[str, Any]:
        """The update for ``services.update_segment``: the fields, and the metadata as a
        merge patch that sets every removed key to None (so removing a row really removes
        the key). Values whose text did not change keep their original type."""
        assert self.segment is not None
        current = self.segment.metadata or {}
        desired = self.cleaned_data["metadata"]
        patch: dict[str, Any] = {key: None for key in current if key not in desired}
        for key, value in desired.items():
            if key not in current or metadata_value_text(current[key]) != value:
                patch[key] = value
        changes = self.create_fields() | {"metadata": patch}
        if not patch:
            del changes["metadata"]
        return changes


# --------------------------------------------------------------------------- accounts, portfolios


def segment_choices(segments: Iterable[Segment]) -> list[tuple[str, str]]:
    return [("", gettext("None")), *((str(segment.pk), segment.name) for segment in segments)]


class MemberForm(forms.Form):
    """Fields that accounts and portfolios share: name, entity id, status, segment."""

    entity_id = forms.CharField(
        label=_("Entity ID"), required=False, max_length=_max_length(Account, "entity_id")
    )
    status = forms.ChoiceField(label=_("Status"), choices=status_choices)
    segment_id = forms.ChoiceField(label=_("Segment"), required=False)
    etag = forms.CharField(required=False, widget=forms.HiddenInput)

    instance: Account | Portfolio | None

    def __init__(
        self,
        *args: Any,
        segments: Iterable[Segment] = (),
        instance: Account | Portfolio | None = None,
        **kwargs: Any,
    ) -> None:
        self.instance = instance
        self.segments = list(segments)
        initial = kwargs.pop("initial", {}) or {}
        if instance is not None:
            initial = self.initial_from(instance) | initial
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["status"].choices = status_choices(instance.status_code if instance else None)
        self.fields["segment_id"].choices = segment_choices(self.segments)

    def initial_from(self, instance: Any) -> dict[str, Any]:
        return {
            "name": instance.name or "",
            "entity_id": instance.entity_id or "",
            "status": instance.status_code,
            "segment_id": str(instance.segment_id or ""),
        }

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": _blank_to_none(data.get("name")),
            "entity_id": _blank_to_none(data["entity_id"]),
            "status_code": data["status"],
            "segment_id": uuid_or_none(data["segment_id"]),
        }

    def changes(self) -> dict[str, Any]:
        """Only what differs from the record, so that an unchanged segment or portfolio
        is not re-validated (a member may stay in a segment that became inactive)."""
        assert self.instance is not None
        changes = {}
        for name, value in self.values().items():
            if getattr(self.instance, name) != value:
                changes[name] = value
        return changes


class PortfolioForm(MemberForm):
    name = forms.CharField(label=_("Name"), max_length=_max_length(Portfolio, "name"))
    field_order = ["name", "entity_id", "segment_id", "status"]


class AccountForm(MemberForm):
    """Create an account (type, asset code and alias are set once) or edit one."""

    name = forms.CharField(label=_("Name"), required=False, max_length=_max_length(Account, "name"))
    alias = forms.CharField(
        label=_("Alias"), required=False, max_length=_max_length(Account, "alias")
    )
    type = forms.CharField(label=_("Type"), max_length=_max_length(Account, "type"))
    asset_code = forms.CharField(
        label=_("Asset code"), max_length=_max_length(Account, "asset_code")
    )
    portfolio_id = forms.ChoiceField(label=_("Portfolio"), required=False)
    blocked = forms.BooleanField(label=_("Blocked"), required=False)
    field_order = [
        "name",
        "alias",
        "type",
        "asset_code",
        "entity_id",
        "portfolio_id",
        "segment_id",
        "status",
    ]

    def __init__(self, *args: Any, portfolios: Iterable[Portfolio] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["portfolio_id"].choices = [
            ("", gettext("None")),
            *((str(portfolio.pk), portfolio.name) for portfolio in portfolios),
        ]
        if self.instance is not None:
            for name in ("alias", "type", "asset_code"):
                del self.fields[name]
        else:
            del self.fields["blocked"]

    def initial_from(self, instance: Any) -> dict[str, Any]:
        return super().initial_from(instance) | {
            "portfolio_id": str(instance.portfolio_id or ""),
            "blocked": instance.blocked,
        }

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = super().values() | {"portfolio_id": uuid_or_none(data["portfolio_id"])}
        if self.instance is None:
            values |= {
                "alias": _blank_to_none(data["alias"]),
                "type": data["type"].strip(),
                "asset_code": data["asset_code"].strip().upper(),
            }
        else:
            values["blocked"] = data["blocked"]
        return values


def is_uuid(value: str) -> bool:
    return uuid_or_none(value) is not None


def selected_ids(data: Mapping[str, Any], name: str) -> list[str]:
    """The ids of the checked rows (``name`` repeated)."""
    values = data.getlist(name) if hasattr(data, "getlist") else []
    return [value for value in values if value]


class ThrottledAuthenticationForm(SignInLimitFormMixin, AuthenticationForm):
    """The console's sign-in. The limit itself is ``segments.ratelimit`` (an authentication
    backend, the same for every way in); this form only words its refusal."""
