"""JSON error pages for paths outside DRF views."""
from .errors import json_error


def not_found(request, exception=None):
    return json_error("not_found", "No such resource.", 404)


def server_error(request):
    return json_error("server_error", "Something went wrong on our side.", 500)
