"""The API's filter backend: django-filter's, with the FilterSets of ``segments.filters``
applied by ``filters.apply_filters`` — the same call the console makes — so a bad value is
the same domain error everywhere (0081, 0082, 0083), never DRF's validation body. The
OpenAPI parameters come from the FilterSets (drf-spectacular's django-filter support)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from segments.filters import apply_filters


class EntityFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        return apply_filters(filterset_class, request.query_params, queryset)
