app_name = "downloads"
urlpatterns: list = []
