"""API routes of the federated app, mounted under /api/v1/."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (EnrollmentView, RoundViewSet, SecAggKeysView, SecAggRevealView, SecAggSharesView, TaskView,
                    UpdateView)

router = SimpleRouter()
router.register("fl/rounds", RoundViewSet, basename="fl-round")
urlpatterns = [
    path("fl/task", TaskView.as_view(), name="fl-task"),
    path("fl/updates", UpdateView.as_view(), name="fl-updates"),
    path("fl/enrollment", EnrollmentView.as_view(), name="fl-enrollment"),
    path("fl/secagg/keys", SecAggKeysView.as_view(), name="fl-secagg-keys"),
    path("fl/secagg/shares", SecAggSharesView.as_view(), name="fl-secagg-shares"),
    path("fl/secagg/reveal", SecAggRevealView.as_view(), name="fl-secagg-reveal"),
    *router.urls,
]
