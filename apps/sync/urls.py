from __future__ import annotations

from django.urls import path

from apps.sync import views

app_name = "sync"
urlpatterns = [
    path("accounts/<int:pk>/", views.account_status, name="status"),
    path("accounts/<int:pk>/sync-now/", views.sync_now, name="sync_now"),
    path("accounts/<int:pk>/reconcile-now/", views.reconcile_now, name="reconcile_now"),
]
