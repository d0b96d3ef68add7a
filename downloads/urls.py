"""Download and access URLs; each half lives in its own module so that each has one owner."""

from django.urls import include, path

app_name = "downloads"
urlpatterns = [
    path("", include("downloads.urls_access")),
    path("", include("downloads.urls_requests")),
]
