"""Admin pages of benefits: their own list, and a table of them on their segment's page.
Every save and delete goes through ``services.create_benefit`` / ``update_benefit`` /
``delete_benefit`` (``segments.admin.forms``), so the kinds' parameters, the window, the
9012 ambiguity rule and the 9013 name rule hold here as everywhere."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from segments import errors, services
from segments.admin.base import EntityAdmin
from segments.admin.entities import METADATA_FIELDSET, STATUS_FIELDSET
from segments.admin.filters import DeletedFilter, LabelledRelatedFilter
from segments.console.benefit_words import parameters_in_words
from segments.models import Benefit


@admin.register(Benefit)
class BenefitAdmin(EntityAdmin):
    """A benefit of one segment: what it grants (its kind's parameters), when (its window),
    and which one wins in its exclusivity group (the lowest priority). Its segment never
    changes; its organization and ledger are its segment's."""

    # Declared like the other entities' admins, on purpose (see ``admin.entities``).

    list_display = ("name", "segment", "kind", "grants", "priority", "status_code", "version")
    list_select_related = ("segment", "organization")
    list_filter = ("kind", "status_code", ("organization", LabelledRelatedFilter), DeletedFilter)
    search_fields = ("name", "description", "exclusivity_group")
    search_help_text = _("Benefit name, description or exclusivity group, or a whole id.")
    autocomplete_fields = ("segment",)
    create_only_fields = ("segment",)
    derived_fields = ("organization", "ledger", "version")
    parent_fields = ("segment",)
    choice_related = ("segment",)
    fieldsets = (
        (None, {"fields": ("segment", "name", "description", "kind", "parameters")}),
        (
            _("When and which"),
            {"fields": ("valid_from", "valid_until", "priority", "exclusivity_group")},
        ),
        STATUS_FIELDSET,
        METADATA_FIELDSET,
    )
    error_fields = {
        errors.InvalidParameters: "parameters",
        errors.UnexpectedParameters: "parameters",
        errors.AmbiguousBenefits: "exclusivity_group",
        errors.DuplicateBenefitName: "name",
    }
    create_service = staticmethod(services.create_benefit)
    update_service = staticmethod(services.update_benefit)
    delete_service = staticmethod(services.delete_benefit)

    @admin.display(description=_("grants"))
    def grants(self, obj: Benefit) -> str:
        return parameters_in_words(obj.kind, obj.parameters)

    def choice_label(self, obj: Benefit) -> str:
        return f"{obj.name} · {obj.segment.name}"


def benefit_rows(segment) -> list[tuple[Benefit, str, str]]:
    """The segment's live benefits for its admin page: each with what it grants and the
    link to its own page, where it is changed through the services."""
    benefits = Benefit.objects.filter(segment=segment).order_by("priority", "created_at", "id")
    return [
        (
            benefit,
            parameters_in_words(benefit.kind, benefit.parameters),
            reverse("admin:segments_benefit_change", args=[benefit.pk]),
        )
        for benefit in benefits
    ]
