"""Search URLs: ``/aq/`` is the query page, as on ALMA's own archive."""

app_name = "queries"
urlpatterns: list = []
