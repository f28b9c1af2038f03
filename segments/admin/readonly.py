"""Admin pages that show rows and never write them (the outbox, the segments' history):
those rows are written by the services only, so the admin may add, change or delete none."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """No add, change or delete permission, whoever asks (the view permission decides who
    sees the pages)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
