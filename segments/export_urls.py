"""CSV exports of the console (issue 5). Views live in ``segments/exports.py``."""

from django.urls import path

from segments import exports

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
