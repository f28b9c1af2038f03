"""The project's URL conf: the admin, the API under ``/v1/`` (any other ``/v1…`` URL is
the API's 0484), the language switch, the CSV exports and the console; and the site-wide
404/500 views."""

from django.contrib import admin
from django.urls import include, path, re_path

from segments.api.errors import route_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("segments.api.urls")),
    re_path(r"^v1(?:/.*)?$", route_not_found, name="api-route-not-found"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("segments.console.export_urls")),
    path("", include("segments.console.urls")),
]

# Site-wide error views (segments_console/views.py): a problem document under /v1/.
handler404 = "segments_console.views.not_found"
handler500 = "segments_console.views.server_error"
