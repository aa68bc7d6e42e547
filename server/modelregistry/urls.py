"""API routes of the modelregistry app, mounted under /api/v1/."""
urlpatterns: list = []
