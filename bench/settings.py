"""Settings of the benchmarked app: the production settings (DEBUG off, SECRET_KEY and
DATABASE_URL from the environment, as ``bench/run.py`` sets them) plus a middleware that
answers each request's SQL query count in ``X-Query-Count``.

Static files are served from the source folders (no manifest, so no ``collectstatic``
step); the benchmark requests no static file."""

from segments_console.settings import *  # noqa: F403

MIDDLEWARE = ["bench.query_count.QueryCountMiddleware", *MIDDLEWARE]  # noqa: F405
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
