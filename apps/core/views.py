from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core import health
from apps.core.models import Heartbeat
from apps.core.overview import account_summaries
from apps.sync.health import troubles_for


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"summaries": account_summaries(request.user)})


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database and the broker answer, 503 otherwise (no login)."""
    problems = {"database": health.check_database(), "broker": health.check_broker()}
    body: dict[str, object] = {name: problem or "ok" for name, problem in problems.items()}
    healthy = not any(problems.values())
    body["status"] = "ok" if healthy else "unhealthy"
    if problems["database"] is None:
        # Informational: a stale pipeline does not make the web process unhealthy.
        age = Heartbeat.age_seconds("pipeline")
        body["worker_last_seen_seconds_ago"] = None if age is None else round(age, 1)
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
def pipeline_status(request: HttpRequest) -> HttpResponse:
    """Render the navigation badges: are beat and a worker alive, is any sync failing or stale."""
    age = Heartbeat.age_seconds("pipeline")
    stale_after = 3 * settings.CELERY_BEAT_SCHEDULE["record-beat-heartbeat"]["schedule"]
    context = {
        "age": age,
        "healthy": age is not None and age <= stale_after,
        "sync": troubles_for(request.user),
    }
    return render(request, "core/_pipeline_status.html", context)


def _error(request: HttpRequest, status: int, title: str, detail: str) -> HttpResponse:
    if getattr(request, "htmx", False):
        return HttpResponse(f"{title}: {detail}", status=status, content_type="text/plain")
    return render(request, "error.html", {"title": title, "detail": detail}, status=status)


@login_not_required
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "Permission denied", "Your role does not allow this action.")


@login_not_required
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Not found", "There is nothing at this address.")


@login_not_required
def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request context: the failure may be in a context processor.
    body = render_to_string(
        "error.html", {"title": "Server error", "detail": "Something went wrong; it was logged."}
    )
    return HttpResponse(body, status=500)
