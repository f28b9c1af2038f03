"""The Django admin for back-office staff: organizations, ledgers, portfolios, accounts,
segments, memberships and segment history, saved and deleted through the same services as
the console and the API (see ``segments.admin.base``)."""

from django.contrib import admin

from segments.admin import entities, memberships, segments  # noqa: F401  (registers the pages)
from segments.admin.login import AdminSignInForm

admin.site.site_header = "Segments Console · back office"
admin.site.site_title = "Segments Console admin"
admin.site.index_title = "Organizations, ledgers, accounts and their segments"
admin.site.login_form = AdminSignInForm
