"""The sign-in limit: one limit for every way in (console, admin, any ``authenticate()``).

The rule: after ``LOGIN_FAILURES_ALLOWED`` failed sign-ins for one username, or
``ADDRESS_FAILURES_ALLOWED`` from one address, within ``LOGIN_WINDOW_SECONDS`` of the
first of them, every further attempt for that username or from that address is refused,
even with the right password, until the window has passed. A successful sign-in clears
the username's count (an address's count runs out with its window).

Where it holds: ``SignInLimitBackend`` is the first of ``AUTHENTICATION_BACKENDS``, so
every call of ``django.contrib.auth.authenticate()`` (the console's and the admin's login
forms, DRF's or any future login) stops at it while blocked (``PermissionDenied``), before
any password is checked; the ``user_login_failed`` receiver counts a failure and the
``user_logged_in`` receiver clears the count. No login view carries code of its own; the
forms only word the refusal (``SignInLimitFormMixin``).

The counts live in the default cache: Redis when ``REDIS_URL`` is set, so the limit is one
across every worker and host; local memory otherwise, where each process counts alone.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import gettext

LOGIN_FAILURES_ALLOWED = 5
ADDRESS_FAILURES_ALLOWED = 4 * LOGIN_FAILURES_ALLOWED
LOGIN_WINDOW_SECONDS = 15 * 60

Blocked = Literal["account", "address"]
BLOCKED_ATTRIBUTE = "sign_in_blocked"  # set on the request that the limit refused


def _username_key(username: str) -> str:
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:user:{name}"


def _address_key(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return f"login-fail:addr:{request.META.get('REMOTE_ADDR') or 'unknown'}"


def _username_of(credentials: dict[str, Any]) -> str:
    value = credentials.get("username", credentials.get(get_user_model().USERNAME_FIELD))
    return value if isinstance(value, str) else ""


def blocked(request: HttpRequest | None, username: str) -> Blocked | None:
    """``"account"`` when ``username`` used up its failed sign-ins, ``"address"`` when the
    request's address did, else None."""
    address_key = _address_key(request)
    keys = [_username_key(username)] + ([address_key] if address_key else [])
    counts = cache.get_many(keys)
    if counts.get(keys[0], 0) >= LOGIN_FAILURES_ALLOWED:
        return "account"
    if address_key and counts.get(address_key, 0) >= ADDRESS_FAILURES_ALLOWED:
        return "address"
    return None


def record_failure(request: HttpRequest | None, username: str) -> None:
    """Count one failed sign-in for ``username`` and for the request's address. The window
    starts at the first failure (``add``) and the count is an atomic ``incr``."""
    for key in (_username_key(username), _address_key(request)):
        if key is None:
            continue
        cache.add(key, 0, LOGIN_WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # the window ran out between add and incr
            cache.set(key, 1, LOGIN_WINDOW_SECONDS)


def clear_failures(username: str) -> None:
    """A successful sign-in: ``username`` starts afresh."""
    cache.delete(_username_key(username))


class SignInLimitBackend:
    """First of ``AUTHENTICATION_BACKENDS``: refuses (``PermissionDenied``, which makes
    ``authenticate()`` stop) while the username or the address is blocked, and marks the
    request with why; otherwise it passes (None) to the next backend. It has no
    ``get_user``: it never signs anyone in, so no session names it as its backend."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, **credentials: Any
    ) -> None:
        reason = blocked(request, _username_of({"username": username, **credentials}))
        if reason is not None:
            if request is not None:
                setattr(request, BLOCKED_ATTRIBUTE, reason)
            raise PermissionDenied(reason)
        return None


@receiver(user_login_failed, dispatch_uid="segments.ratelimit.count_failure")
def count_failure(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is not None and getattr(request, BLOCKED_ATTRIBUTE, None):
        return  # refused by the limit itself: no password was tried
    record_failure(request, _username_of(credentials))


@receiver(user_logged_in, dispatch_uid="segments.ratelimit.clear_on_sign_in")
def clear_on_sign_in(sender: object, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    clear_failures(user.get_username())


def blocked_message(reason: Blocked) -> str:
    minutes = LOGIN_WINDOW_SECONDS // 60
    if reason == "account":
        return gettext(
            "Too many failed sign-ins: this account is temporarily locked. "
            "Wait %(minutes)d minutes and try again."
        ) % {"minutes": minutes}
    return gettext(
        "Too many failed sign-ins from this address. Wait %(minutes)d minutes and try again."
    ) % {"minutes": minutes}


class SignInLimitFormMixin:
    """For a subclass of ``AuthenticationForm``: when the limit refused the attempt, say so
    (the account is temporarily locked) instead of "wrong username or password"."""

    request: HttpRequest | None

    def get_invalid_login_error(self) -> ValidationError:
        reason = getattr(self.request, BLOCKED_ATTRIBUTE, None)
        if reason is not None:
            return ValidationError(blocked_message(reason), code="throttled")
        return super().get_invalid_login_error()  # type: ignore[misc]
