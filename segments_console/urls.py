from django.contrib import admin
from django.urls import include, path, re_path

from segments.api.errors import route_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("segments.api.urls")),
    re_path(r"^v1(?:/.*)?$", route_not_found, name="api-route-not-found"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("segments.export_urls")),
    path("", include("segments.console.urls")),
]

handler404 = "segments.api.errors.not_found"
handler500 = "segments.api.errors.server_error"
