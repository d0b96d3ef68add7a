"""Accounts, delegations and the access log."""

urlpatterns: list = []
