"""The VO services at the paths astroquery and pyvo join to an archive's URL."""

from django.urls import path

from vo import views

app_name = "vo"
urlpatterns = [
    path("tap", views.tap_root, name="tap"),
    path("tap/sync", views.sync, name="tap-sync"),
    path("tap/capabilities", views.capabilities, name="tap-capabilities"),
    path("tap/availability", views.availability, name="tap-availability"),
    path("tap/tables", views.tables, name="tap-tables"),
]
