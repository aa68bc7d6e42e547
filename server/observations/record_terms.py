"""A record's terms besides its identification: the licence the recordist chose, the sound-quality rating
(xeno-canto's A–E) and the species heard in the background. Pure: values in, values or errors out.

* Licences a player may choose: CC0 1.0, CC BY 4.0, CC BY-NC 4.0 (default CC BY-NC 4.0), named by a
  short code in requests and stored as the licence's URL; imports keep their own licence URL.
* A rating is one letter A (best) to E (worst), or empty (not rated).
* Background species are scientific names, at most :data:`MAX_BACKGROUND` distinct ones.

Refusals raise :class:`TermsError` with a stable code (``invalid_license``, ``invalid_rating``,
``invalid_background_species``) that views turn into ``400``.
"""
from __future__ import annotations

import re

LICENSES: dict[str, str] = {
    "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "cc-by-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "cc-by-nc-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
}
DEFAULT_LICENSE = "cc-by-nc-4.0"
DEFAULT_LICENSE_URL = LICENSES[DEFAULT_LICENSE]
RATINGS = ("A", "B", "C", "D", "E")
# Audubon Core's xmp:Rating: 1 (worst) to 5 (best); 0 is "not rated"
XMP_RATING = {"A": 5, "B": 4, "C": 3, "D": 2, "E": 1}
MAX_BACKGROUND = 20
_CC_URL = re.compile(r"creativecommons\.org/(?P<kind>licenses|publicdomain)/(?P<code>[a-z-]+)/(?P<version>[\d.]+)")


class TermsError(ValueError):
    """A refused value: ``code`` is the API's error code, ``field`` the request field."""

    def __init__(self, code: str, field: str, message: str):
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


def license_url(code: str) -> str:
    """The URL of a licence a player may choose, by its code (see :data:`LICENSES`)."""
    if not isinstance(code, str) or code not in LICENSES:
        raise TermsError("invalid_license", "license",
                         f"license must be one of {', '.join(LICENSES)}.")
    return LICENSES[code]


def license_code(url: str) -> str | None:
    """The code of a choosable licence URL, or None for any other licence (imports)."""
    return next((code for code, known in LICENSES.items() if known == url), None)


def license_name(url: str) -> str:
    """A licence URL as people name it: ``CC BY-NC-SA 4.0``, ``CC0 1.0``; another text as it is."""
    m = _CC_URL.search(url or "")
    if m is None:
        return url or ""
    if m["kind"] == "publicdomain":
        return f"CC0 {m['version']}" if m["code"] == "zero" else f"Public Domain Mark {m['version']}"
    return f"CC {m['code'].upper()} {m['version']}"


def rating(value) -> str:
    """A rating letter A–E (case-insensitive), or "" for None/""."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or value.strip().upper() not in RATINGS:
        raise TermsError("invalid_rating", "rating", "rating must be one of A, B, C, D, E (A best).")
    return value.strip().upper()


def split_background(raw: str) -> list[str]:
    """xeno-canto's ``also`` column (names separated by ``;`` or ``,``) as a list without repeats."""
    names = [n.strip() for n in re.split(r"[;,]", raw or "") if n.strip()]
    return list(dict.fromkeys(names))[:MAX_BACKGROUND]


def background_names(values) -> list[str]:
    """A request's list of background species names, checked for shape (not yet against the catalogue)."""
    if not isinstance(values, list) or len(values) > MAX_BACKGROUND or not all(
            isinstance(v, str) and 0 < len(v.strip()) <= 120 and storable(v) for v in values):
        raise TermsError("invalid_background_species", "background_species",
                         f"background_species must be a list of at most {MAX_BACKGROUND} species names.")
    return list(dict.fromkeys(v.strip() for v in values))


def storable(text: str) -> bool:
    """Whether ``text`` can be stored as database text (no NUL character, no lone surrogate)."""
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


def associated_taxa(names: list[str]) -> str:
    """Darwin Core ``associatedTaxa`` for species heard in the background."""
    return " | ".join(f'"heard in background":"{n}"' for n in names)
