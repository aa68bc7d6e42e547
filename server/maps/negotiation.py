"""Content negotiation for binary endpoints: errors are always JSON, whatever ``Accept`` says."""
from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation


class AlwaysJson(BaseContentNegotiation):
    """Pick the first renderer (JSON) so a tile or PNG client never gets ``406`` for an error."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
