from django.conf import settings


def site(request):
    """Values every page needs: whether this instance shows demo data."""
    return {"DEMO_MODE": settings.DEMO_MODE}
