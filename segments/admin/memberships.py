"""Admin page of memberships: who holds which role (viewer, operator, admin) in which
organization — the only source of tenancy (see ``segments.tenancy``)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from segments.admin.changelists import BigTableMixin
from segments.admin.choices import LabelledChoicesMixin
from segments.admin.filters import LabelledRelatedFilter
from segments.models import Membership


@admin.register(Membership)
class MembershipAdmin(BigTableMixin, LabelledChoicesMixin, admin.ModelAdmin):
    """A user's role in one organization; one membership per user and organization."""

    list_display = ("user", "organization", "role", "created_at")
    list_select_related = ("user", "organization")
    list_filter = ("role", ("organization", LabelledRelatedFilter))
    search_fields = ("user__username", "user__email", "organization__legal_name")
    search_help_text = _("Username, e-mail or organization legal name.")
    autocomplete_fields = ("user", "organization")
    readonly_fields = ("created_at",)
    fields = ("user", "organization", "role", "created_at")
