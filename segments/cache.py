"""The shared cache (``REDIS_URL``): Django's own Redis backend, except that ``clear()``
removes only this site's keys (those under its ``KEY_PREFIX``) instead of flushing the
whole Redis database, which other sites, or other test sessions, may share."""

from __future__ import annotations

import re

from django.core.cache.backends.redis import RedisCache

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


class PrefixedRedisCache(RedisCache):
    def clear(self) -> bool:
        """Delete every key of this ``KEY_PREFIX`` (all versions), in batches of 500."""
        client = self._cache.get_client(None, write=True)
        pattern = _GLOB_SPECIAL.sub(r"\\\1", self.key_prefix) + ":*"
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
        return True
