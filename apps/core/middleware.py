"""Login enforcement that never swaps a login form into an htmx target."""

from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse


class HtmxLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Require login on every view not marked ``@login_not_required``.

    A full-page request is redirected to the login page as usual. An htmx request (a polled
    fragment, a button) gets 403 with an ``HX-Redirect`` header instead: htmx then sends the
    whole tab to the login page rather than embedding a login form inside a table cell.
    """

    def handle_no_permission(self, request, view_func):
        if getattr(request, "htmx", False):
            current = request.htmx.current_url_abs_path or request.get_full_path()
            login = redirect_to_login(current, self.get_login_url(view_func))
            response = HttpResponse("Your session has ended; please log in again.", status=403)
            response["HX-Redirect"] = login["Location"]
            return response
        return super().handle_no_permission(request, view_func)
