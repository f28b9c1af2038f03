"""The admin's sign-in form: Django's, wording the sign-in limit's refusal
(``segments.ratelimit``) as "temporarily locked" instead of "wrong password"."""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm

from segments.ratelimit import SignInLimitFormMixin


class AdminSignInForm(SignInLimitFormMixin, AdminAuthenticationForm):
    pass
