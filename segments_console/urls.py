from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("segments.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("segments.export_urls")),
    path("", include("segments.console.urls")),
]

handler404 = "segments.api.errors.not_found"
handler500 = "segments.api.errors.server_error"
