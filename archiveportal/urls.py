"""URL map: the search lives at ``/aq/`` as ALMA's does."""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="queries:search", permanent=False)),
    path("health/", views.health, name="health"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # The API's description is no secret: tools fetch it before they log in.
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "api/docs/",
        login_not_required(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("", include("queries.urls")),
    path("", include("downloads.urls")),
    path("", include("vo.urls")),
    path("", include("watches.urls")),
    path("", include("targets.urls")),
]
