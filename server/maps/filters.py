"""The map's filters (species, dates, time of day, grade, confidence, recording type).

Parsed once from query parameters into :class:`MapFilters`, then rendered either as a SQL
``WHERE`` fragment (tiles) or applied to a queryset (detail lists, exports). Bad values raise
``ApiError("invalid_filter")`` naming the parameter.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, time

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from server.common.errors import ApiError
from server.observations.filters import (GRADE_PARAM, RATING_PARAM, parse_grades, parse_instant, parse_ratings,
                                         split_list)
from server.observations.geoprivacy import coarse_from, coarse_until, midnight_within
from server.observations.public_reads import Source
from server.species.lookup import species_matching

TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
SOUND_TYPE_RE = re.compile(r"^[a-z][a-z \-]{0,39}$")
FILTER_NAMES = ("species", "date_from", "date_to", "time_from", "time_to", "grade", "min_confidence",
                "type", "source", "rating")


@dataclass(frozen=True)
class MapFilters:
    species_ids: tuple[int, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None
    time_from: time | None = None
    time_to: time | None = None
    grades: tuple[str, ...] = ()
    min_confidence: float | None = None
    sound_types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    ratings: tuple[str, ...] = ()  # sound quality A–E; "" is unrated

    def canonical(self) -> str:
        """A stable digest of the filter values (for ETags and cache keys): of :meth:`to_json`, which names every
        field; equal filters give equal digests. Not ``dataclasses.asdict``, which deep-copies every value on
        every public tile."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        """JSON-safe form, stored with export jobs and parsed back by :func:`from_json`."""
        return {"species_ids": list(self.species_ids),
                "date_from": self.date_from.isoformat() if self.date_from else None,
                "date_to": self.date_to.isoformat() if self.date_to else None,
                "time_from": self.time_from.strftime("%H:%M") if self.time_from else None,
                "time_to": self.time_to.strftime("%H:%M") if self.time_to else None,
                "grades": list(self.grades), "min_confidence": self.min_confidence,
                "sound_types": list(self.sound_types), "sources": list(self.sources), "ratings": list(self.ratings)}

    @classmethod
    def from_json(cls, data: dict) -> MapFilters:
        return cls(species_ids=tuple(data.get("species_ids") or ()),
                   date_from=datetime.fromisoformat(data["date_from"]) if data.get("date_from") else None,
                   date_to=datetime.fromisoformat(data["date_to"]) if data.get("date_to") else None,
                   time_from=time.fromisoformat(data["time_from"]) if data.get("time_from") else None,
                   time_to=time.fromisoformat(data["time_to"]) if data.get("time_to") else None,
                   grades=tuple(data.get("grades") or ()), min_confidence=data.get("min_confidence"),
                   sound_types=tuple(data.get("sound_types") or ()), sources=tuple(data.get("sources") or ()),
                   ratings=tuple(data.get("ratings") or ()))


def _bad(name: str, raw: str, message: str) -> ApiError:
    return ApiError("invalid_filter", f"{name}: {message}", fields={name: raw})


def resolve_species(raw: str) -> tuple[int, ...]:
    """Comma-separated labels, scientific names or ids → species ids; unknown names are errors."""
    items = split_list(raw, "species")
    ids = {int(x) for x in items if x.isdigit()}
    names = [x for x in items if not x.isdigit()]
    rows = species_matching(ids, names)
    known = {str(r[0]) for r in rows} | {r[1] for r in rows} | {r[2] for r in rows}
    unknown = [x for x in items if x not in known]
    if unknown:
        raise _bad("species", raw, f"unknown species {unknown[0]!r}.")
    return tuple(sorted({r[0] for r in rows}))


def parse_time_of_day(raw: str, name: str) -> time:
    m = TIME_RE.match(raw.strip())
    if not m:
        raise _bad(name, raw, "use HH:MM (UTC, 00:00–23:59).")
    return time(int(m.group(1)), int(m.group(2)))


def parse_map_filters(params) -> MapFilters:
    """Query parameters → :class:`MapFilters` (raises ``ApiError`` on any bad value)."""
    kw: dict = {}
    if params.get("species"):
        kw["species_ids"] = resolve_species(params["species"])
    if params.get("date_from"):
        kw["date_from"] = parse_instant(params["date_from"], "date_from")
    if params.get("date_to"):
        kw["date_to"] = parse_instant(params["date_to"], "date_to", end_of_day=True)
    if kw.get("date_from") and kw.get("date_to") and kw["date_from"] > kw["date_to"]:
        raise _bad("date_from", params["date_from"], "must not be after date_to.")
    if params.get("time_from"):
        kw["time_from"] = parse_time_of_day(params["time_from"], "time_from")
    if params.get("time_to"):
        kw["time_to"] = parse_time_of_day(params["time_to"], "time_to")
    if params.get(GRADE_PARAM):
        kw["grades"] = parse_grades(params[GRADE_PARAM])
    if params.get("min_confidence") not in (None, ""):
        raw = params["min_confidence"]
        try:
            value = float(raw)
        except ValueError:
            raise _bad("min_confidence", raw, "must be a number between 0 and 1.") from None
        if not 0.0 <= value <= 1.0:
            raise _bad("min_confidence", raw, "must be between 0 and 1.")
        kw["min_confidence"] = value
    if params.get("type"):
        types = [t.lower() for t in split_list(params["type"], "type")]
        bad = [t for t in types if not SOUND_TYPE_RE.match(t)]
        if bad:
            raise _bad("type", params["type"], f"bad recording type {bad[0]!r}.")
        kw["sound_types"] = tuple(sorted(set(types)))
    if params.get("source"):
        sources = split_list(params["source"], "source")
        bad = [s for s in sources if s not in Source.values]
        if bad:
            raise _bad("source", params["source"], f"unknown source {bad[0]!r}; use {', '.join(Source.values)}.")
        kw["sources"] = tuple(sorted(set(sources)))
    if params.get(RATING_PARAM):
        kw["ratings"] = parse_ratings(params[RATING_PARAM])
    return MapFilters(**kw)


def time_of_day_range(f: MapFilters) -> tuple[time, time]:
    """[start, end] of the time-of-day filter, ``time_to`` inclusive of its whole minute."""
    lo, hi = f.time_from or time(0, 0), f.time_to or time(23, 59, 59, 999999)
    return lo, (time(hi.hour, hi.minute, 59, 999999) if f.time_to else hi)


def filters_sql(f: MapFilters, alias: str = "o", coarse: bool = False) -> tuple[str, list]:
    """A ``WHERE`` fragment (always valid, ``TRUE`` when empty) and its parameters.

    ``coarse``: the asker sees obscured observations at their date only, so time filters test those
    at their published midnight (UTC), not their instant; otherwise a narrowing date-time range or
    time-of-day filter would find the time. The sargable ``observed_at`` bounds stay first."""
    parts: list[str] = ["TRUE"]
    args: list = []
    if f.species_ids:
        parts.append(f"{alias}.species_id = ANY(%s)")
        args.append(list(f.species_ids))
    if f.date_from:
        parts.append(f"{alias}.observed_at >= %s")
        args.append(f.date_from)
        if coarse:
            parts.append(f"(NOT {alias}.obscured OR {alias}.observed_at >= %s)")
            args.append(coarse_from(f.date_from))
    if f.date_to:
        if coarse:
            parts.append(f"{alias}.observed_at < %s AND ({alias}.obscured OR {alias}.observed_at <= %s)")
            args += [coarse_until(f.date_to), f.date_to]
        else:
            parts.append(f"{alias}.observed_at <= %s")
            args.append(f.date_to)
    if f.time_from or f.time_to:
        tod = f"({alias}.observed_at AT TIME ZONE 'UTC')::time"
        lo, hi = time_of_day_range(f)
        test = f"{tod} BETWEEN %s AND %s" if lo <= hi else f"({tod} >= %s OR {tod} <= %s)"
        if coarse:
            test = (f"({alias}.obscured OR {test})" if midnight_within(lo, hi)
                    else f"(NOT {alias}.obscured AND {test})")
        parts.append(test)
        args += [lo, hi]
    if f.grades:
        parts.append(f"{alias}.status = ANY(%s)")
        args.append(list(f.grades))
    if f.min_confidence is not None:
        parts.append(f"{alias}.confidence >= %s")
        args.append(f.min_confidence)
    if f.sound_types:
        parts.append(f"lower({alias}.sound_type) = ANY(%s)")
        args.append(list(f.sound_types))
    if f.sources:
        parts.append(f"{alias}.source = ANY(%s)")
        args.append(list(f.sources))
    if f.ratings:
        parts.append(f"{alias}.rating = ANY(%s)")
        args.append(list(f.ratings))
    return " AND ".join(parts), args


def apply_map_filters(qs: QuerySet, f: MapFilters, coarse: bool = False) -> QuerySet:
    """The same filters on an Observation queryset (same semantics as :func:`filters_sql`, ``coarse``
    included)."""
    if f.species_ids:
        qs = qs.filter(species_id__in=f.species_ids)
    if f.date_from:
        qs = qs.filter(observed_at__gte=f.date_from)
        if coarse:
            qs = qs.filter(Q(obscured=False) | Q(observed_at__gte=coarse_from(f.date_from)))
    if f.date_to:
        if coarse:
            qs = qs.filter(Q(obscured=True) | Q(observed_at__lte=f.date_to), observed_at__lt=coarse_until(f.date_to))
        else:
            qs = qs.filter(observed_at__lte=f.date_to)
    if f.time_from or f.time_to:
        lo, hi = time_of_day_range(f)
        if lo <= hi:
            test = Q(observed_at__time__gte=lo, observed_at__time__lte=hi)
        else:
            test = Q(observed_at__time__gte=lo) | Q(observed_at__time__lte=hi)
        if coarse:
            test = (Q(obscured=True) | test) if midnight_within(lo, hi) else (Q(obscured=False) & test)
        qs = qs.filter(test)
    if f.grades:
        qs = qs.filter(status__in=f.grades)
    if f.min_confidence is not None:
        qs = qs.filter(confidence__gte=f.min_confidence)
    if f.sound_types:
        qs = qs.annotate(sound_type_lower=Lower("sound_type")).filter(sound_type_lower__in=f.sound_types)
    if f.sources:
        qs = qs.filter(source__in=f.sources)
    if f.ratings:
        qs = qs.filter(rating__in=f.ratings)
    return qs
