"""Strict JSON for request bodies and JSON form fields.

:func:`loads_strict` accepts only what the database and the serializers can hold: nesting at
most ``max_depth`` levels, strings and keys free of NUL characters and lone surrogates
(PostgreSQL text cannot store either), numbers that are finite floats or integers within a
signed 64-bit range (no ``NaN``/``Infinity``, no ``1e400``, no ``10**400``). Anything else
raises :class:`JsonRefused` naming the first offending path (``"device.model"``, ``"items.3"``).
"""
from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
INT_LIMIT = 2 ** 63  # integers must lie in [-2**63, 2**63)
_MAX_INT_DIGITS = 20  # longer literals are refused before int() spends time on them


class JsonRefused(ValueError):
    """The text is not JSON this API accepts. ``path`` names the offending value ("" for the whole text)."""

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.reason = reason
        self.path = path


class _Constant:
    """Placeholder for ``NaN``/``Infinity`` literals, refused with its path by the walk."""


class _HugeInt:
    """Placeholder for an integer literal with more digits than any accepted integer."""


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (a NUL character, a lone surrogate), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate"
    return None


def _parse_int(literal: str) -> int | _HugeInt:
    if len(literal.lstrip("-")) > _MAX_INT_DIGITS:
        return _HugeInt()
    return int(literal)


def value_problem(value: Any, finite_only: bool = True) -> str | None:
    """Why a scalar decoded by :func:`loads_strict` is refused, or None."""
    if isinstance(value, _Constant):
        return "NaN and Infinity are not numbers"
    if isinstance(value, _HugeInt) or (isinstance(value, int) and not isinstance(value, bool)
                                       and not -INT_LIMIT <= value < INT_LIMIT):
        return "integer out of range"
    if finite_only and isinstance(value, float) and not math.isfinite(value):
        return "number out of range"
    if isinstance(value, str):
        return text_problem(value)
    return None


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def check_tree(data: Any, max_depth: int = MAX_DEPTH, finite_only: bool = True) -> None:
    """Walk decoded JSON iteratively and raise :class:`JsonRefused` at the first refused value.

    Depth counts containers: ``{}`` and ``[]`` are depth 1, ``{"a": []}`` depth 2.
    """
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth + 1 > max_depth:
                raise JsonRefused(f"nested deeper than {max_depth} levels", path)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and (problem := text_problem(key)):
                    raise JsonRefused(f"key {problem}", path)
                stack.append((item, _join(path, key), depth + 1))
        elif problem := value_problem(value, finite_only):
            raise JsonRefused(problem, path)


def loads_strict(text: str | bytes, max_depth: int = MAX_DEPTH, finite_only: bool = True) -> Any:
    """Decode ``text`` (str, or UTF-8/16/32 bytes) and enforce the contract in the module docstring.

    ``finite_only=False`` lets a literal beyond float range (``1e400``) through as an infinite float,
    for a caller whose own validation answers it with a more specific code; the ``NaN`` and
    ``Infinity`` literals (not JSON) are refused either way. Raises :class:`JsonRefused` for
    text that is not JSON, too deep or holds refused values.
    """
    try:
        data = json.loads(text, parse_constant=lambda _: _Constant(), parse_int=_parse_int)
    except RecursionError:
        raise JsonRefused(f"nested deeper than {max_depth} levels") from None
    except (TypeError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise JsonRefused(f"not valid JSON ({exc.__class__.__name__})") from None
    check_tree(data, max_depth, finite_only)
    return data
