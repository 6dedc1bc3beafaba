from django.urls import path

from apps.core.views import home

app_name = "accounts"
urlpatterns = [
    path("", home, name="list"),
    path("new/", home, name="create"),
    path("audit/", home, name="audit"),
    path("<int:pk>/", home, name="detail"),
]
