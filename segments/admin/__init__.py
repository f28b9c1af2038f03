"""The Django admin for back-office staff: organizations, ledgers, portfolios, accounts,
segments, their benefits, memberships and segment history, saved and deleted through the
same services as the console and the API (see ``segments.admin.forms`` and
``segments.admin.actions``); and the events outbox, read-only but for the retry of dead
events (``segments.admin.events``)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from segments.admin import (  # noqa: F401  (registers the pages)
    benefits,
    entities,
    events,
    memberships,
    segments,
)
from segments.admin.login import AdminSignInForm

admin.site.site_header = _("Segments Console · back office")
admin.site.site_title = _("Segments Console admin")
admin.site.index_title = _("Organizations, ledgers, accounts and their segments")
admin.site.login_form = AdminSignInForm
