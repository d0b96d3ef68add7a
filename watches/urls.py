from django.urls import path

from watches import views

app_name = "watches"
urlpatterns = [
    path("watches/", views.watch_list, name="list"),
    path("watches/search/<int:pk>/", views.watch_search, name="watch"),
    path("watches/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("whats-new/", views.whats_new_page, name="whats-new"),
    path("calendar/", views.calendar_page, name="calendar"),
    path("calendar/feed/", views.feed_create, name="feed-create"),
    path("calendar/feed/stop/", views.feed_stop, name="feed-stop"),
    path("calendar/<str:token>.ics", views.feed_ics, name="feed"),
]
