"""URLs of the console's CSV exports (namespace ``exports``); the views are in
``segments.console.exports``."""

from django.urls import path

from segments.console import exports

app_name = "exports"
urlpatterns = [
    path(
        "organizations/<uuid:organization_id>/ledgers/<uuid:ledger_id>/segments/export.csv",
        exports.segments_csv,
        name="segments_csv",
    ),
    path(
        "organizations/<uuid:organization_id>/ledgers/<uuid:ledger_id>/segments/<uuid:segment_id>/members/export.csv",
        exports.segment_members_csv,
        name="segment_members_csv",
    ),
]
