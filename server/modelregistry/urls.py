"""Model registry routes: /api/v1/models/..."""
from rest_framework.routers import SimpleRouter

from .views import ModelVersionViewSet

router = SimpleRouter()
router.register("models", ModelVersionViewSet, basename="model")
urlpatterns = router.urls
