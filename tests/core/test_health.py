from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_health_answers_without_login_when_database_and_broker_are_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["worker_last_seen_seconds_ago"] is None  # no worker ran in this test
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_health_reports_an_unreachable_broker_with_503_and_no_password(client, settings):
    settings.CELERY_BROKER_URL = "redis://:hunter2-broker-password@127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "ok"
    assert body["broker"] != "ok"
    assert "hunter2" not in response.content.decode()


@pytest.mark.django_db
def test_pages_redirect_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


@pytest.mark.django_db
def test_htmx_requests_get_403_with_a_client_redirect_not_a_login_form(client):
    response = client.get(
        "/", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/x?y=1"}
    )
    assert response.status_code == 403
    assert response["HX-Redirect"] == "/login/?next=/x%3Fy%3D1"
    assert b"<form" not in response.content


@pytest.mark.django_db
def test_unknown_pages_render_the_friendly_404(admin_client):
    response = admin_client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"There is nothing at this address." in response.content


def test_pages_carry_a_content_security_policy(client):
    response = client.get("/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
