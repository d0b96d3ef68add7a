"""Search URLs: ``/aq/`` is the query page, as on ALMA's own archive."""

from django.urls import path

from queries import api, views

app_name = "queries"
urlpatterns = [
    path("aq/", views.search_page, name="search"),
    path("aq/run/", views.run_search, name="run"),
    path("aq/sky/", views.sky_fragment, name="sky"),
    path("aq/spectrum/", views.spectrum_fragment, name="spectrum"),
    path("aq/search/<uuid:pk>/status/", views.search_status, name="search-status"),
    path("aq/columns/", views.save_columns, name="columns"),
    path("aq/project/<str:code>/", views.project_page, name="project"),
    path("aq/mous/<path:uid>/", views.mous_page, name="mous"),
    path("saved/", views.saved_list, name="saved"),
    path("saved/new/", views.saved_create, name="saved-create"),
    path("saved/<int:pk>/", views.saved_open, name="saved-open"),
    path("saved/<int:pk>/rename/", views.saved_rename, name="saved-rename"),
    path("saved/<int:pk>/delete/", views.saved_delete, name="saved-delete"),
    path("api/observations/", api.observations, name="api-observations"),
    path("api/searches/", api.searches, name="api-searches"),
    path("api/searches/<uuid:pk>/", api.search_detail, name="api-search"),
]
