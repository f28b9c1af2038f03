"""Per-token request rate for the API."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from segments.models import ApiToken


class ApiRateThrottle(SimpleRateThrottle):
    """Each API token gets ``DEFAULT_THROTTLE_RATES["api"]`` requests (``API_THROTTLE_RATE``
    in the environment). Session users are counted per user, anonymous callers per
    address. Beyond the rate the API answers 429 (9005) with ``Retry-After``. The counts
    live in the default cache: one count across every worker with ``REDIS_URL``, one per
    process with local memory."""

    scope = "api"

    def get_rate(self) -> str | None:
        # Read at request time, not import time, so that a changed setting applies.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"address:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
