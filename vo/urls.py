"""The VO services at the paths astroquery and pyvo join to an archive's URL."""

from django.urls import path

from vo import views, views_uws

app_name = "vo"
urlpatterns = [
    path("tap", views.tap_root, name="tap"),
    path("tap/sync", views.sync, name="tap-sync"),
    path("tap/capabilities", views.capabilities, name="tap-capabilities"),
    path("tap/availability", views.availability, name="tap-availability"),
    path("tap/tables", views.tables, name="tap-tables"),
    path("tap/examples", views.examples, name="tap-examples"),
    path("sia2/query", views.sia_query, name="sia-query"),
    path("sia2/capabilities", views.sia_capabilities, name="sia-capabilities"),
    path("tap/async", views_uws.job_list, name="tap-async"),
    path("tap/async/<str:job_id>", views_uws.job_detail, name="tap-job"),
    path("tap/async/<str:job_id>/results/result", views_uws.job_result, name="tap-job-result"),
    path("tap/async/<str:job_id>/<str:attribute>", views_uws.job_attribute, name="tap-job-attr"),
]
