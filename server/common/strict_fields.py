"""Serializer fields that take JSON types literally: a number is a JSON number, text is a JSON string.

DRF's ``FloatField`` turns ``true`` into 1.0 and ``"18.3"`` into 18.3, and ``CharField`` turns
``1234`` into ``"1234"``. These fields refuse any other JSON type with ``type_code`` (a stable
error code such as ``invalid_coordinates``), then validate as their DRF parent does.
"""
from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictFloatField(serializers.FloatField):
    """A JSON number (int or float, never a boolean or a string)."""

    def __init__(self, *, type_code: str = "invalid", **kwargs: Any) -> None:
        self.type_code = type_code
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise serializers.ValidationError("Must be a JSON number.", code=self.type_code)
        return super().to_internal_value(data)


class StrictStringMixin:
    """A JSON string only; mixed into ``CharField`` and its subclasses."""

    type_code = "invalid"

    def __init__(self, *args: Any, type_code: str = "invalid", **kwargs: Any) -> None:
        self.type_code = type_code
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a JSON string.", code=self.type_code)
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictRegexField(StrictStringMixin, serializers.RegexField):
    pass
