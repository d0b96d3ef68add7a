"""URL map: the search lives at ``/aq/`` as ALMA's does."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("", RedirectView.as_view(url="/aq/", permanent=False)),
    path("health/", views.health, name="health"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("queries.urls")),
    path("", include("downloads.urls")),
]
