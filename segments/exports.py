"""Placeholder: the admin/CSV issue implements these streamed exports."""

from django.http import HttpResponse


def segments_csv(request, organization_id, ledger_id):
    return HttpResponse(status=501)


def segment_members_csv(request, organization_id, ledger_id, segment_id):
    return HttpResponse(status=501)
