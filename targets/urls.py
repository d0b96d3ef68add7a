"""Target list URLs."""

from django.urls import path

from targets import views

app_name = "targets"
urlpatterns = [
    path("targets/", views.lists_page, name="lists"),
    path("targets/<uuid:pk>/", views.detail_page, name="detail"),
]
