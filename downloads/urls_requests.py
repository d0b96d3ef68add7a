"""Download requests, scripts, file lists, file serving and DataLink."""

from django.urls import path

from downloads import views_basket
from downloads import views_requests as views

urlpatterns = [
    path("requests/", views.request_list, name="requests"),
    path("basket/", views_basket.basket_page, name="basket"),
    path("basket/add/", views_basket.basket_add, name="basket-add"),
    path("basket/add-result/", views_basket.basket_add_result, name="basket-add-result"),
    path("basket/offer/", views_basket.basket_offer, name="basket-offer"),
    path("basket/remove/", views_basket.basket_remove, name="basket-remove"),
    path("requests/new/", views.new_request, name="request-new"),
    path("requests/<uuid:pk>/", views.request_detail, name="request"),
    path("requests/<uuid:pk>/script", views.request_script, name="request-script"),
    path("requests/<uuid:pk>/files.txt", views.request_file_list, name="request-files"),
    path("requests/<uuid:pk>/manifest.tsv", views.request_manifest, name="request-manifest"),
    path("dataPortal/<str:name>", views.serve_file, name="file"),
    path("dataPortal/<str:tar>/<path:member>", views.serve_tar_member, name="tar-member"),
    path("datalink/sync", views.datalink, name="datalink"),
]
