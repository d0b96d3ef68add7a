"""Download requests, scripts, file lists, file serving and DataLink."""

urlpatterns: list = []
