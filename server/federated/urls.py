"""API routes of the federated app, mounted under /api/v1/."""
urlpatterns: list = []
