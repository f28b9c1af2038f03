"""The admin's actions on selected rows. Each one calls a service per row
(``each_row``: one transaction per row, the service's own), so a refused row stays as it
was while the others change, and the outcome is reported once: one message for what was
done, one listing every refusal with its reason. A destructive action asks first
(``confirm_action``); a soft delete removes nothing else, so its confirmation lists the
rows themselves."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments.errors import DomainError


class RowActionsMixin:
    """``delete_selected`` through the entity's delete service, and the helpers of every
    row action: ``each_row``, ``confirm_action``, ``report``."""

    def each_row(
        self,
        request: HttpRequest,
        rows: Iterable[Any],
        service: Callable[[Any], Any],
        *,
        log: Callable[[Any], None],
        done: Callable[[int, list[Any]], str],
    ) -> None:
        """Call ``service`` on each row; a refusal (``DomainError``) leaves that row as it
        was and is listed with its reason (``refusal``). ``log`` records each row changed;
        ``done`` words the outcome from the count of rows changed and the services'
        results; ``report`` tells both."""
        results: list[Any] = []
        refused: list[str] = []
        for obj in rows:
            try:
                results.append(service(obj))
            except DomainError as error:
                refused.append(refused_row(obj, self.refusal(error)))
                continue
            log(obj)
        self.report(request, done(len(results), results), refused)

    def get_deleted_objects(
        self, objs: Iterable[Any], request: HttpRequest
    ) -> tuple[list, dict, set, list]:
        """A soft delete removes nothing else: the confirmation lists the rows themselves,
        and protected references (history, members) never block the page."""
        objs = list(objs)
        links = [
            format_html(
                '{}: <a href="{}">{}</a>', capfirst(self.opts.verbose_name), self.change_url(o), o
            )
            for o in objs
        ]
        return links, {self.opts.verbose_name_plural: len(objs)}, set(), []

    @admin.action(permissions=["delete"], description=_("Delete selected %(verbose_name_plural)s"))
    def delete_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Soft delete each selected live row through the service, after a confirmation
        page; refused rows stay and are listed with the reason."""
        live = queryset.live()
        if not request.POST.get("post"):
            return self.confirm_action(
                request,
                live,
                action="delete_selected",
                title=gettext("Delete %(entities)s?") % {"entities": self.opts.verbose_name_plural},
                question=gettext(
                    "These %(entities)s will be deleted: hidden from every list, kept in the "
                    "database for audit."
                )
                % {"entities": self.opts.verbose_name_plural},
                button=gettext("Yes, delete"),
            )
        self.each_row(
            request,
            live,
            lambda obj: self.delete_service(request.user, obj),
            log=lambda obj: self.log_deletions(request, [obj]),
            done=lambda count, _results: (
                gettext("Deleted %(count)s %(entities)s.")
                % {"count": count, "entities": self._plural(count)}
            ),
        )
        return None

    def confirm_action(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        action: str,
        title: str,
        question: str,
        button: str,
        rows: Iterable[tuple[Any, str]] | None = None,
    ) -> TemplateResponse:
        """A confirmation page for a destructive action: it posts the same action back
        with ``post=yes``, from the changelist or from a row's page."""
        prefix = "CHANGE_FORM-" if "CHANGE_FORM-action" in request.POST else ""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "question": question,
            "button": button,
            "rows": list(rows) if rows is not None else [(obj, "") for obj in queryset],
            "action": action,
            "action_field": f"{prefix}action",
            "opts": self.opts,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/segments/confirm_action.html", context)

    def report(self, request: HttpRequest, done: str, refused: list[str]) -> None:
        """One success message, and one error message listing every refusal."""
        self.message_user(request, done, messages.SUCCESS if not refused else messages.WARNING)
        if refused:
            self.message_user(
                request,
                gettext("Refused %(count)s: %(reasons)s")
                % {"count": len(refused), "reasons": " · ".join(refused)},
                messages.ERROR,
            )

    def _plural(self, count: int) -> str:
        return str(self.opts.verbose_name if count == 1 else self.opts.verbose_name_plural)


def refused_row(obj: Any, reason: str) -> str:
    """One refusal of an action, as ``report`` lists it: ``“Black”: the reason``."""
    return gettext("“%(row)s”: %(reason)s") % {"row": obj, "reason": reason}
