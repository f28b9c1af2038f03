"""Settings of the server the replica tests start: the production settings (DEBUG off,
the databases from ``DATABASE_URL`` and ``REPLICA_DATABASE_URL``) with static files served
from the source folders, so that console pages render without a ``collectstatic`` step."""

from segments_console.settings import *  # noqa: F403

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
