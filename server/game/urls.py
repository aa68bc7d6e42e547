"""API routes of the game app, mounted under /api/v1/."""
urlpatterns: list = []
