"""Write an export (CSV, GeoJSON or Darwin Core Archive) of a queryset, streaming, with progress.

Files are written to a temporary name and renamed when complete, so a crashed export never
leaves a half-written file that looks finished.
"""
from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from . import dwca
from .records import geojson_feature, iter_observations, multimedia, occurrence

FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "geojson": ("application/geo+json", "geojson"),
           "dwca": ("application/zip", "zip")}
PROGRESS_EVERY = 500
# the Darwin Core occurrence terms, then the sound-quality rating (A–E, as xeno-canto rates)
CSV_COLUMNS = ["occurrenceID"] + [n for n, _ in dwca.OCCURRENCE_TERMS if n != "occurrenceID"] + ["rating"]

Progress = Callable[[int], None]


def _noop(_: int) -> None:
    pass


def write_csv(qs, out: io.TextIOBase, absolute, progress: Progress) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    n = 0
    for n, obs in enumerate(iter_observations(qs), 1):
        writer.writerow(occurrence(obs, absolute))
        if n % PROGRESS_EVERY == 0:
            progress(n)
    return n


def write_geojson(qs, out: io.TextIOBase, absolute, progress: Progress) -> int:
    out.write('{"type": "FeatureCollection", "features": [\n')
    n = 0
    for n, obs in enumerate(iter_observations(qs), 1):
        out.write((",\n" if n > 1 else "") + json.dumps(geojson_feature(obs, absolute), ensure_ascii=False))
        if n % PROGRESS_EVERY == 0:
            progress(n)
    out.write("\n]}\n")
    return n


def write_dwca(qs, target: Path, absolute, progress: Progress, eml_args: dict) -> int:
    n, bbox = 0, None
    licenses: dict[str, int] = {}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.xml", dwca.meta_xml())
        occ_names = ["id"] + [name for name, _ in dwca.OCCURRENCE_TERMS]
        media_names = ["coreid"] + [name for name, _ in dwca.MULTIMEDIA_TERMS]
        media_rows: list[str] = []
        with zf.open("occurrence.txt", "w") as raw:
            occ = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
            occ.write("\t".join(occ_names) + "\n")
            for n, obs in enumerate(iter_observations(qs), 1):
                row = occurrence(obs, absolute)
                occ.write("\t".join(dwca.clean(row.get(k)) for k in occ_names) + "\n")
                licenses[row["license"]] = licenses.get(row["license"], 0) + 1
                lat, lng = row["decimalLatitude"], row["decimalLongitude"]
                bbox = (lng, lat, lng, lat) if bbox is None else (
                    min(bbox[0], lng), min(bbox[1], lat), max(bbox[2], lng), max(bbox[3], lat))
                media = multimedia(obs, absolute)
                if media:
                    media_rows.append("\t".join(dwca.clean(media.get(k)) for k in media_names))
                if n % PROGRESS_EVERY == 0:
                    progress(n)
            occ.flush()
            occ.detach()
        with zf.open("multimedia.txt", "w") as raw:
            mm = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
            mm.write("\t".join(media_names) + "\n")
            for line in media_rows:
                mm.write(line + "\n")
            mm.flush()
            mm.detach()
        zf.writestr("eml.xml", dwca.eml_xml(n_records=n, bbox=bbox, licenses=licenses, **eml_args))
    return n


def write_export(fmt: str, qs, target: Path, absolute: Callable[[str], str], progress: Progress = _noop,
                 eml_args: dict | None = None) -> int:
    """Write ``qs`` as ``fmt`` to ``target`` atomically; returns the number of records."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    try:
        if fmt == "dwca":
            n = write_dwca(qs, tmp, absolute, progress, eml_args or default_eml_args())
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as out:
                n = (write_csv if fmt == "csv" else write_geojson)(qs, out, absolute, progress)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    progress(n)
    return n


def default_eml_args() -> dict:
    return {"title": "Dawn Chorus sound observations",
            "abstract": "Bird and urban sound observations recorded by Dawn Chorus players and imported from "
                        "xeno-canto, identified by an on-device classifier and the community.",
            "publisher": "Dawn Chorus", "contact_email": "data@dawnchorus.invalid",
            "package_id": "dawnchorus-export"}
