"""URL map: the versioned API, its schema and docs, the admin, and the health check."""
from csp.decorators import csp_update
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from server.accounts.views import LoginView, LogoutView, MeView, RegisterView, SessionView, UserAdminViewSet
from server.observations.views import ObservationViewSet
from server.recordings.views import RecordingViewSet
from server.species.views import SpeciesViewSet

router = DefaultRouter()
router.register("species", SpeciesViewSet, basename="species")
router.register("recordings", RecordingViewSet, basename="recording")
router.register("observations", ObservationViewSet, basename="observation")
router.register("users", UserAdminViewSet, basename="user")


def health(request):
    return JsonResponse({"status": "ok"})


api_v1 = [
    path("auth/register/", RegisterView.as_view(), name="register"),
    path("auth/login/", LoginView.as_view(), name="login"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    path("auth/session/", SessionView.as_view(), name="session"),
    path("auth/me/", MeView.as_view(), name="me"),
    # each feature app mounts its own routes (see its urls.py)
    path("", include("server.species.urls")),
    path("", include(router.urls)),
    path("", include("server.modelregistry.urls")),
    path("", include("server.federated.urls")),
    path("", include("server.game.urls")),
    path("", include("server.soundscapes.urls")),
    path("", include("server.maps.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/api/docs/", permanent=False)),
    path("healthz", health, name="health"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves Swagger UI's init script as a file, so the CSP needs no inline scripts
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    # ReDoc's page has one inline script (drf-spectacular's template): allowed on that page only
    path("api/redoc/", csp_update({"script-src": ["'unsafe-inline'"]})(SpectacularRedocView.as_view(url_name="schema")),
         name="redoc"),
    path("admin/", admin.site.urls),
]

handler404 = "server.common.views.not_found"
handler500 = "server.common.views.server_error"

# --- researchers' web map: the built single-page app, static assets under /static/webmap/ ---
from server.maps.webapp import webmap_index, webmap_review  # noqa: E402

urlpatterns += [path("map/", webmap_index, name="webmap"), path("map/review/", webmap_review, name="webmap-review")]
