"""Parse and apply the observation list's query filters; bad values raise ApiError."""
from __future__ import annotations

from datetime import datetime, time, timezone

from django.contrib.gis.geos import Polygon
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from server.common.errors import ApiError
from server.common.strict_json import text_problem

from .geoprivacy import coarse_from, coarse_until
from .models import Status
from .record_terms import RATINGS

MAX_LIST_ITEMS = 50
GRADE_PARAM = "grade"
# The observation list's old name of grade=, kept for one release: it filters the same way and its answers
# carry a ``Deprecation: true`` header (server/observations/views.py).
DEPRECATED_GRADE_PARAM = "status"
RATING_PARAM = "rating"
BACKGROUND_PARAM = "background"
UNRATED = "-"
EARLIEST_INSTANT = datetime(1, 1, 2, tzinfo=timezone.utc)
LATEST_INSTANT = datetime(9999, 12, 30, tzinfo=timezone.utc)


def parse_bbox(raw: str) -> Polygon:
    """``minLng,minLat,maxLng,maxLat`` (WGS84) as a polygon."""
    parts = raw.split(",")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise ApiError("invalid_bbox", "bbox must be four numbers: minLng,minLat,maxLng,maxLat.") from None
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise ApiError("invalid_bbox", "bbox coordinates are out of range.")
    if west >= east or south >= north:
        raise ApiError("invalid_bbox", "bbox must have minLng < maxLng and minLat < maxLat.")
    return Polygon.from_bbox((west, south, east, north))


def parse_instant(raw: str, name: str, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time as an aware UTC datetime (naive means UTC; a date is its first or,
    with ``end_of_day``, its last instant). Offsets must be within ±24 h and the instant must lie in
    [``EARLIEST_INSTANT``, ``LATEST_INSTANT``] once in UTC (a day's margin inside ``datetime``'s range,
    so day arithmetic on it cannot overflow); anything else raises ``ApiError("invalid_filter")``
    naming ``name``."""
    refuse_bad_text(raw, name)
    try:
        value = parse_datetime(raw) if "T" in raw or " " in raw else None
        if value is None:
            day = parse_date(raw)
            if day is None:
                raise ValueError(raw)
            value = datetime.combine(day, time.max if end_of_day else time.min)
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        if not EARLIEST_INSTANT <= value <= LATEST_INSTANT:
            raise ValueError(raw)
        return value
    except (ValueError, OverflowError):  # no ISO form, an offset beyond ±24 h, or out of range
        raise ApiError("invalid_filter", f"{name} must be an ISO date or date-time (UTC offsets within ±24 h).",
                       fields={name: raw}) from None


def refuse_bad_text(raw: str, name: str) -> None:
    """``ApiError("invalid_filter")`` when ``raw`` holds a NUL character or a lone surrogate."""
    if problem := text_problem(raw):
        raise ApiError("invalid_filter", f"{name} {problem}.", fields={name: problem})


def split_list(raw: str, name: str) -> list[str]:
    refuse_bad_text(raw, name)
    items = [x.strip() for x in raw.split(",") if x.strip()]
    if not items or len(items) > MAX_LIST_ITEMS:
        raise ApiError("invalid_filter", f"{name} takes 1 to {MAX_LIST_ITEMS} comma-separated values.")
    return items


def parse_grades(raw: str, name: str = GRADE_PARAM) -> tuple[str, ...]:
    """Comma-separated quality grades (``Status`` values) as a sorted tuple without repeats; an unknown
    grade raises ``ApiError("invalid_filter")`` naming ``name``."""
    grades = split_list(raw, name)
    bad = [g for g in grades if g not in Status.values]
    if bad:
        raise ApiError("invalid_filter", f"{name}: unknown grade {bad[0]!r}; use {', '.join(Status.values)}.",
                       fields={name: raw})
    return tuple(sorted(set(grades)))


def uses_deprecated_grade_name(params) -> bool:
    """Whether the query names ``status=``, the deprecated alias of ``grade=``."""
    return DEPRECATED_GRADE_PARAM in params


def requested_grades(params) -> tuple[str, ...]:
    """The grades asked for by ``grade=`` or its deprecated alias ``status=`` (empty: no grade filter).
    Both names with different grades raise ``ApiError("invalid_filter")``; with the same grades they agree."""
    grade, status = params.get(GRADE_PARAM), params.get(DEPRECATED_GRADE_PARAM)
    grades = parse_grades(grade) if grade else ()
    old = parse_grades(status, DEPRECATED_GRADE_PARAM) if status else ()
    if grade and status and grades != old:
        raise ApiError("invalid_filter", "grade and its deprecated alias status ask for different grades; use "
                       "grade only.", fields={GRADE_PARAM: grade, DEPRECATED_GRADE_PARAM: status})
    return grades or old


def apply_filters(qs: QuerySet, params, geo_field: str, coarse: bool = False) -> QuerySet:
    """bbox, species (labels or ids), date_from/date_to, grade (or its deprecated alias status), source,
    rating (A–E), background (scientific names heard in the background, any of them).
    ``coarse``: obscured observations
    match the date bounds at their published date only (see :func:`server.maps.filters.filters_sql`)."""
    if params.get("bbox"):
        qs = qs.filter(**{f"{geo_field}__intersects": parse_bbox(params["bbox"])})
    if params.get("species"):
        items = split_list(params["species"], "species")
        ids = [int(x) for x in items if x.isdigit()]
        labels = [x for x in items if not x.isdigit()]
        qs = qs.filter(Q(species_id__in=ids) | Q(species__label__in=labels) | Q(species__scientific_name__in=labels))
    if params.get("date_from"):
        start = parse_instant(params["date_from"], "date_from")
        qs = qs.filter(observed_at__gte=start)
        if coarse:
            qs = qs.filter(Q(obscured=False) | Q(observed_at__gte=coarse_from(start)))
    if params.get("date_to"):
        end = parse_instant(params["date_to"], "date_to", end_of_day=True)
        qs = (qs.filter(Q(obscured=True) | Q(observed_at__lte=end), observed_at__lt=coarse_until(end)) if coarse
              else qs.filter(observed_at__lte=end))
    if grades := requested_grades(params):
        qs = qs.filter(status__in=grades)
    if params.get("source"):
        qs = qs.filter(source__in=split_list(params["source"], "source"))
    if params.get(RATING_PARAM):
        qs = qs.filter(rating__in=parse_ratings(params[RATING_PARAM]))
    if params.get(BACKGROUND_PARAM):
        qs = qs.filter(background_species__overlap=split_list(params[BACKGROUND_PARAM], BACKGROUND_PARAM))
    return qs


def parse_ratings(raw: str, name: str = RATING_PARAM) -> tuple[str, ...]:
    """Comma-separated sound-quality ratings A–E (``-`` asks for unrated records) as a sorted tuple; anything
    else raises ``ApiError("invalid_rating")`` naming ``name``."""
    items = [x.upper() for x in split_list(raw, name)]
    bad = [x for x in items if x not in RATINGS and x != UNRATED]
    if bad:
        raise ApiError("invalid_rating", f"{name}: unknown rating {bad[0]!r}; use A, B, C, D, E or - (unrated).",
                       fields={name: raw})
    return tuple(sorted({"" if x == UNRATED else x for x in items}))
