"""Settings for the test suite: the real settings with a test-only secret and a fast hasher.

The cache is Redis, as in production: ``REDIS_URL`` when set, else the local Redis at
``127.0.0.1:6379`` (database 1) when it answers, else local memory (the tests marked
``redis`` then skip loudly, or the suite refuses to start under ``REQUIRE_REDIS=1``). Every
test session, hence every xdist worker, gets a ``KEY_PREFIX`` of its own so that parallel
runs never share a counter; ``CACHE_KEY_PREFIX`` overrides it (the servers a test starts
share the test's).
"""

import os
import socket
import uuid

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")

from segments_console.settings import *  # noqa: F403

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/1"


def _local_redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {  # noqa: F405
    "api": os.environ.get("API_THROTTLE_RATE", "100000/minute")
}

REDIS_URL = os.environ.get("REDIS_URL") or (LOCAL_REDIS_URL if _local_redis_answers() else "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "segments.cache.PrefixedRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX") or f"test-{uuid.uuid4().hex[:12]}",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }

# The test servers (Django client, live_server for the browser) speak plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# The feed's settling delay is tested where it matters (tests/events/test_feed.py).
EVENTS_FEED_SETTLE_MS = int(os.environ.get("EVENTS_FEED_SETTLE_MS", "0"))
