"""Accounts, delegations and the access log."""

from django.urls import path

from downloads import views_access

urlpatterns = [
    path("access/", views_access.access_page, name="access"),
    path("access/grant/", views_access.grant_view, name="grant"),
    path("access/<int:pk>/revoke/", views_access.revoke_view, name="revoke"),
    path("access/token/", views_access.token_page, name="token"),
    path("access/token/<int:pk>/revoke/", views_access.token_revoke, name="token-revoke"),
    path("api/access/delegations/", views_access.api_delegations, name="api-delegations"),
    path("api/access/delegations/<int:pk>/", views_access.api_delegation, name="api-delegation"),
]
