"""DRF parsers that refuse what the database cannot hold, as 400 ``malformed_request``.

``StrictJSONParser`` decodes through :func:`server.common.strict_json.loads_strict` (bounded
nesting, no NUL or lone surrogates, finite numbers, 64-bit integers); ``StrictFormParser`` refuses
NUL characters in form keys and values. Both are the project's defaults (``REST_FRAMEWORK``
``DEFAULT_PARSER_CLASSES``), so every view that reads ``request.data`` gets them. They raise DRF's
``ParseError`` (the error handler's ``malformed_request``): DRF imports parsers while its views
module loads, before ``server.common.errors`` can be imported.
"""
from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser

from .strict_json import JsonRefused, loads_strict, text_problem


def malformed(message: str) -> ParseError:
    return ParseError(message)


class StrictJSONParser(JSONParser):
    finite_only = True  # False: a literal beyond float range reaches the view as ±inf

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read()
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise malformed(f"The JSON body is not valid {encoding}.") from None
        try:
            return loads_strict(text, finite_only=self.finite_only)
        except JsonRefused as exc:
            raise malformed(f"JSON body: {exc}") from None


class StrictFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        for key, values in data.lists():
            for text in (key, *values):
                if problem := text_problem(text):
                    raise malformed(f"Form field {key[:40]!r} {problem}.")
        return data
