"""API routes of the soundscapes app, mounted under /api/v1/."""
urlpatterns: list = []
