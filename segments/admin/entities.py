"""Admin pages of organizations, ledgers, portfolios and accounts. Every save and delete
goes through ``segments.services`` (see ``segments.admin.forms``). How an account or a
portfolio came into its segment (``segment_assigned_by``: by hand, so pinned, or by a
rule) is listed, filtered and shown, never edited: only the services set it."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments import errors, services
from segments.admin.base import EntityAdmin
from segments.admin.filters import (
    AssignedByFilter,
    DeletedFilter,
    LabelledRelatedFilter,
    SegmentFilter,
)
from segments.admin.forms import ServiceForm
from segments.models import Account, AssignedBy, Ledger, Organization, Portfolio

# The admins below (and ``SegmentAdmin``) are alike line for line by design: Django's
# declarative options, then the entity's three services and its choice label. Each names
# its own, so a reader sees on the page's class what it lists and which service it calls;
# a base deriving them from the entity's name would hide both.
STATUS_FIELDSET = (_("Status"), {"fields": ("status_code", "status_description")})
METADATA_FIELDSET = (_("Metadata"), {"fields": ("metadata",)})
ADDRESS_HELP = _(
    "A JSON object with any of line1, line2, zipCode, city, state and country (ISO 3166 "
    'alpha-2), e.g. {"city": "São Paulo", "country": "BR"}.'
)
ASSIGNED_BY_WORDS = {AssignedBy.MANUAL: _("By hand (pinned)"), AssignedBy.RULE: _("By rule")}


class AssignedByColumn:
    """The "assigned by" column and read-only field of accounts and portfolios: how the
    row came into its segment, in words; empty without a segment. Read from the row
    itself, so it costs no query."""

    @admin.display(description=_("assigned by"))
    def assigned_by(self, obj: Account | Portfolio) -> Any:
        return ASSIGNED_BY_WORDS.get(obj.segment_assigned_by)


@admin.register(Organization)
class OrganizationAdmin(EntityAdmin):
    """An organization: the tenant. Its legal document never changes; one that still holds
    live ledgers, segments or child organizations cannot be deleted. Whoever creates one
    becomes its admin (a membership)."""

    list_display = (
        "legal_name",
        "legal_document",
        "doing_business_as",
        "parent_organization",
        "status_code",
        "created_at",
    )
    list_select_related = ("parent_organization",)
    list_filter = ("status_code", DeletedFilter)
    search_fields = ("legal_name", "legal_document", "doing_business_as")
    search_help_text = _("Legal name, legal document or trade name, or a whole id.")
    autocomplete_fields = ("parent_organization",)
    create_only_fields = ("legal_document",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "legal_name",
                    "legal_document",
                    "doing_business_as",
                    "parent_organization",
                    "address",
                )
            },
        ),
        STATUS_FIELDSET,
        METADATA_FIELDSET,
    )
    error_fields = {errors.OrganizationNotFound: "parent_organization"}
    # The back office: staff may name any live organization as a parent (tenancy).
    update_service = staticmethod(functools.partial(services.update_organization, back_office=True))
    delete_service = staticmethod(services.delete_organization)

    def get_form(self, request, obj=None, change=False, **kwargs) -> type[ServiceForm]:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if "address" in form_class.base_fields:
            form_class.base_fields["address"].help_text = ADDRESS_HELP
        return form_class

    def create(self, actor: Any, form: ServiceForm, fields: dict[str, Any]) -> Organization:
        return services.create_organization(actor, back_office=True, **fields)


@admin.register(Ledger)
class LedgerAdmin(EntityAdmin):
    """A ledger of one organization (which never changes). One that still holds live
    accounts, portfolios or segments cannot be deleted."""

    list_display = ("name", "organization", "status_code", "created_at")
    list_select_related = ("organization",)
    list_filter = ("status_code", ("organization", LabelledRelatedFilter), DeletedFilter)
    search_fields = ("name",)
    search_help_text = _("Ledger name, or a whole id.")
    autocomplete_fields = ("organization",)
    create_only_fields = ("organization",)
    parent_fields = ("organization",)
    choice_related = ("organization",)
    fieldsets = (
        (None, {"fields": ("organization", "name")}),
        STATUS_FIELDSET,
        METADATA_FIELDSET,
    )
    create_service = staticmethod(services.create_ledger)
    update_service = staticmethod(services.update_ledger)
    delete_service = staticmethod(services.delete_ledger)

    def choice_label(self, obj: Ledger) -> str:
        return f"{obj.name} · {obj.organization.legal_name}"


@admin.register(Portfolio)
class PortfolioAdmin(AssignedByColumn, EntityAdmin):
    """A portfolio of one ledger (which never changes). Its segment must be a live, ACTIVE
    segment of that ledger or of its organization. One that still holds live accounts
    cannot be deleted."""

    list_display = (
        "name",
        "entity_id",
        "ledger",
        "organization",
        "segment",
        "assigned_by",
        "status_code",
        "created_at",
    )
    list_select_related = ("ledger", "organization", "segment")
    list_filter = (
        "status_code",
        SegmentFilter,
        AssignedByFilter,
        ("organization", LabelledRelatedFilter),
        ("ledger", LabelledRelatedFilter),
        DeletedFilter,
    )
    search_fields = ("name", "entity_id")
    search_help_text = _("Portfolio name or holder's entity id, or a whole id.")
    autocomplete_fields = ("ledger", "segment")
    create_only_fields = ("ledger",)
    derived_fields = ("organization",)
    parent_fields = ("ledger",)
    choice_related = ("ledger",)
    readonly_fields = ("assigned_by",)
    saved_only_fields = ("assigned_by",)
    fieldsets = (
        (None, {"fields": ("ledger", "name", "entity_id")}),
        (_("Segment"), {"fields": ("segment", "assigned_by")}),
        STATUS_FIELDSET,
        METADATA_FIELDSET,
    )
    error_fields = {errors.LedgerNotFound: "ledger"}
    create_service = staticmethod(services.create_portfolio)
    update_service = staticmethod(services.update_portfolio)
    delete_service = staticmethod(services.delete_portfolio)

    def choice_label(self, obj: Portfolio) -> str:
        return f"{obj.name} · {obj.ledger.name}"


@admin.register(Account)
class AccountAdmin(AssignedByColumn, EntityAdmin):
    """An account of one ledger. Its ledger, type, asset code, alias and parent never
    change; its alias is free among the ledger's live accounts and follows the alias rules;
    its portfolio and parent belong to the same ledger; its segment is a live, ACTIVE
    segment of that ledger or of its organization. Its effective segment is its own, else
    its portfolio's."""

    list_display = (
        "account",
        "name",
        "type",
        "asset_code",
        "ledger",
        "segment",
        "assigned_by",
        "effective_segment",
        "portfolio",
        "status_code",
        "blocked",
    )
    list_select_related = ("ledger", "segment", "portfolio__segment")
    list_filter = (
        "status_code",
        "blocked",
        SegmentFilter,
        AssignedByFilter,
        ("organization", LabelledRelatedFilter),
        ("ledger", LabelledRelatedFilter),
        DeletedFilter,
    )
    search_fields = ("alias", "name", "entity_id")
    search_help_text = _("Alias, name or holder's entity id, or a whole id.")
    autocomplete_fields = ("ledger", "parent_account", "portfolio", "segment")
    create_only_fields = ("ledger", "type", "asset_code", "alias", "parent_account")
    derived_fields = ("organization",)
    parent_fields = ("ledger",)
    choice_related = ("ledger",)
    readonly_fields = ("assigned_by", "effective_segment")
    saved_only_fields = ("assigned_by", "effective_segment")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "ledger",
                    "alias",
                    "name",
                    "type",
                    "asset_code",
                    "entity_id",
                    "parent_account",
                    "blocked",
                )
            },
        ),
        (_("Segment"), {"fields": ("portfolio", "segment", "assigned_by", "effective_segment")}),
        STATUS_FIELDSET,
        METADATA_FIELDSET,
    )
    error_fields = {errors.LedgerNotFound: "ledger", errors.PortfolioNotFound: "portfolio"}
    create_service = staticmethod(services.create_account)
    update_service = staticmethod(services.update_account)
    delete_service = staticmethod(services.delete_account)

    @admin.display(description=_("account"), ordering="alias")
    def account(self, obj: Account) -> str:
        return str(obj)

    @admin.display(description=_("effective segment"))
    def effective_segment(self, obj: Account) -> Any:
        """Its own segment, else its portfolio's."""
        if obj.segment_id:
            return obj.segment
        if obj.portfolio_id and obj.portfolio.segment_id:
            return gettext("%(segment)s (through portfolio)") % {"segment": obj.portfolio.segment}
        return None

    def choice_label(self, obj: Account) -> str:
        return f"{obj} · {obj.ledger.name}"
