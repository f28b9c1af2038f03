"""Per-token request rate for the API, counted atomically in the shared cache."""

from __future__ import annotations

import contextlib

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from segments.models import ApiToken


class ApiRateThrottle(SimpleRateThrottle):
    """Each API token gets ``DEFAULT_THROTTLE_RATES["api"]`` requests (``API_THROTTLE_RATE``
    in the environment). Session users are counted per user, anonymous callers per
    address. Beyond the rate the API answers 429 (9005) with ``Retry-After``.

    The counts live in the default cache: one count across every worker with
    ``REDIS_URL``, one per process with local memory. Each request takes its number with
    one atomic ``incr`` (DRF's own throttle reads a list and writes it back, so two
    workers answering at once both see the same history and the rate is exceeded). The
    window slides, estimated from two fixed windows: the requests of the current one plus
    those of the previous one weighted by how much of it the sliding window still
    overlaps. A refused request is not counted."""

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

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        current_key = f"{self.key}:{window}"
        try:
            number = self.cache.incr(current_key)
        except ValueError:  # the window's first request
            # Kept through the next window, where it is the previous one.
            if self.cache.add(current_key, 1, 2 * self.duration):
                number = 1
            else:  # another request created it meanwhile
                number = self.cache.incr(current_key)
        self.previous = self.cache.get(f"{self.key}:{window - 1}", 0)
        self.elapsed = (self.now % self.duration) / self.duration
        if self.previous * (1 - self.elapsed) + number <= self.num_requests:
            return True
        with contextlib.suppress(ValueError):  # the cache was cleared meanwhile
            self.cache.decr(current_key)
        self.admitted = number - 1
        return False

    def wait(self) -> float:
        """Seconds until one more request would be admitted, if no other arrives."""
        limit, previous, admitted = self.num_requests, self.previous, self.admitted
        if previous and admitted + 1 <= limit:
            # Still in this window, once the previous window's weight has faded enough.
            fraction = 1 - (limit - admitted - 1) / previous
            return max(1.0, (fraction - self.elapsed) * self.duration)
        # In the next window, once this window's weight has faded enough.
        fraction = max(0.0, 1 - (limit - 1) / admitted) if admitted else 0.0
        return max(1.0, (1 - self.elapsed + fraction) * self.duration)
