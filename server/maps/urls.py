"""API routes of the maps app, mounted under /api/v1/."""
urlpatterns: list = []
