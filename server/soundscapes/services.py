"""Building, caching and serving soundscape specs (the app's service functions).

* :func:`build_window` rebuilds every cell of a window from one grouped query (beat, live).
* :func:`specs_for` returns the specs of some cells, rebuilding stale ones (and a window never
  built, or a live window older than ``LIVE_MAX_AGE``) on the spot.
* :func:`mark_stale` is called when a recording is accepted (receivers.py, on the analysis event).
* :func:`forget_observation` is called when an observation is deleted (withdrawn): its cell is stale,
  the clip cut from its recording and the cell's mix of its day are gone, so no soundscape plays it.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import connection, transaction
from django.utils import timezone

from server.common.errors import ApiError
from server.observations import services as observations

from .cells import cell_bbox, cell_of
from .clips import ClipResolver
from .models import CellMix, CellSpec, Clip, WindowBuild
from .queries import grouped_by_cell
from .specbuild import CellGroups, cell_spec, spec_etag
from .windows import LIVE, Window, day_window, window_for

LIVE_REBUILD_EVERY = timedelta(minutes=5)
LIVE_MAX_AGE = timedelta(minutes=15)


def empty_spec(cell: str, window: str) -> dict:
    return {"cell": cell, "window": window, "sources": []}


def _specs(cells: dict[str, CellGroups], window: Window) -> list[tuple[str, dict, str, int]]:
    """(cell, spec, etag, n_observations) for each cell."""
    resolver = ClipResolver()
    out = []
    for cell, entry in cells.items():
        spec = cell_spec(cell, window.name, entry.groups, resolver)
        out.append((cell, spec, spec_etag(spec), entry.n_observations))
    return out


UPSERT_SQL = """
INSERT INTO {table} ("window", cell, spec, etag, n_observations, stale, built_at)
SELECT "window", cell, spec::jsonb, etag, n_observations, false, %(now)s FROM soundscape_specs_in
ON CONFLICT ("window", cell) DO UPDATE SET spec = EXCLUDED.spec, etag = EXCLUDED.etag,
  n_observations = EXCLUDED.n_observations, stale = false, built_at = EXCLUDED.built_at
"""


def _write(specs: list[tuple[str, dict, str, int]], window: Window, now: datetime) -> None:
    """Upsert specs through COPY (fast for thousands of cells, no per-row quoting in Python)."""
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS soundscape_specs_in (\"window\" text, cell text, "
                    "spec text, etag text, n_observations integer) ON COMMIT DELETE ROWS")
        cur.execute("TRUNCATE soundscape_specs_in")
        with cur.connection.cursor().copy("COPY soundscape_specs_in FROM STDIN") as copy:
            for cell, spec, etag, n in specs:
                copy.write_row((window.name, cell, json.dumps(spec, separators=(",", ":")), etag, n))
        cur.execute(UPSERT_SQL.format(table=CellSpec._meta.db_table), {"now": now})


def build_window(window: Window) -> WindowBuild:
    """Rebuild every cell of ``window``; cells that emptied are removed. One transaction."""
    now = timezone.now()
    with transaction.atomic():
        build, _ = WindowBuild.objects.select_for_update().get_or_create(
            window=window.name, defaults={"start": window.start, "end": window.end, "built_at": now})
        specs = _specs(grouped_by_cell(window), window)
        CellSpec.objects.filter(window=window.name).exclude(cell__in=[c for c, *_ in specs]).delete()
        _write(specs, window, now)
        build.start, build.end, build.built_at = window.start, window.end, now
        build.n_cells, build.n_observations = len(specs), sum(n for *_, n in specs)
        build.save()
    return build


def rebuild_cells(cells: list[str], window: Window) -> None:
    """Rebuild some cells of a window (stale ones) from queries around each cell."""
    now = timezone.now()
    for cell in cells:
        with transaction.atomic():
            found = grouped_by_cell(window, cell_bbox(cell), only={cell})
            if found:
                _write(_specs(found, window), window, now)
            else:
                CellSpec.objects.filter(window=window.name, cell=cell).delete()


def specs_for(cells: list[str], window_name: str) -> list[dict]:
    """``[{cell, etag, window, built_at, sources}]`` for the cells, in the order given."""
    now = timezone.now()
    window = window_for(window_name, now)
    build = WindowBuild.objects.filter(window=window_name).first()
    if build is None or (window_name == LIVE and now - build.built_at > LIVE_MAX_AGE):
        build_window(window)
    stale = list(CellSpec.objects.filter(window=window_name, cell__in=cells, stale=True)
                 .values_list("cell", flat=True))
    if stale:
        rebuild_cells(stale, window)
    rows = {r.cell: r for r in CellSpec.objects.filter(window=window_name, cell__in=cells)}
    out = []
    for cell in cells:
        row = rows.get(cell)
        spec = row.spec if row else empty_spec(cell, window_name)
        out.append({"cell": cell, "etag": row.etag if row else spec_etag(spec), "window": window_name,
                    "built_at": row.built_at.isoformat() if row and row.built_at else None,
                    "sources": spec["sources"]})
    return out


def mark_stale(lng: float, lat: float, observed_at: datetime) -> None:
    """The cell of an observation's public position (``lng``, ``lat``) is stale for live and for the UTC day
    of ``observed_at``."""
    cell = cell_of(lat, lng)
    day = observed_at.astimezone(dt_timezone.utc).date().isoformat()
    # one INSERT … ON CONFLICT DO UPDATE for both windows (this runs after every acceptance)
    CellSpec.objects.bulk_create(
        [CellSpec(window=window, cell=cell, spec=empty_spec(cell, window), stale=True) for window in (LIVE, day)],
        update_conflicts=True, unique_fields=["window", "cell"], update_fields=["stale"])


def forget_observation(lng: float, lat: float, observed_at: datetime, recording_id) -> None:
    """A deleted observation at public position (``lng``, ``lat``) leaves the soundscapes: its cell is stale
    for live and for its day (the next read rebuilds it without the observation), the clip made from its
    recording is deleted with its file, and so is the cell's artistic mix of that day (it mixed the clip;
    the next mix run renders the cell again from what is left)."""
    from server.platform import storage as files

    mark_stale(lng, lat, observed_at)
    doomed: list[str] = []
    if recording_id is not None:
        for clip in Clip.objects.filter(recording_id=recording_id):
            doomed.append(clip.path)
            clip.delete()
    day = observed_at.astimezone(dt_timezone.utc).date()
    for mix in CellMix.objects.filter(cell=cell_of(lat, lng), day=day):
        doomed.append(mix.path)
        mix.delete()
    for name in doomed:
        if not (Clip.objects.filter(path=name).exists() or CellMix.objects.filter(path=name).exists()):
            files.delete(name)


def earliest_day() -> date | None:
    first = observations.first_observed_at()
    return first.date() if first else None


def parse_window(raw: str | None) -> str:
    """The window named by ``?date=``: ``live`` when absent; validated UTC day otherwise."""
    if raw is None or raw == "":
        return LIVE
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ApiError("invalid_date", "date must be an ISO date, YYYY-MM-DD (UTC).",
                       fields={"date": "Not a YYYY-MM-DD date."}) from None
    today = timezone.now().date()
    if day > today:
        raise ApiError("date_in_future", f"{day} is in the future (today is {today} UTC).",
                       fields={"date": "In the future."})
    first = earliest_day()
    if first is None or day < first:
        raise ApiError("date_before_data", f"There are no observations before {first or today}.",
                       fields={"date": "Before the project's first observation."})
    return day_window(day).name
