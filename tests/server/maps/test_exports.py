"""Exports: CSV, GeoJSON and a Darwin Core Archive checked term by term; limits and async jobs."""
from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from datetime import datetime, timezone

import pytest

from server.maps import dwca
from server.maps.export_views import PUBLIC_EXPORT_LIMIT
from server.maps.models import ExportJob
from server.maps.public_clip_backfill import backfill
from server.maps.tasks import run_export
from server.observations.demo_import import FIXTURE_OBSERVATIONS, import_observations
from server.observations.models import Observation

from ..conftest import client_for

pytestmark = pytest.mark.django_db
DWC_TEXT = "{http://rs.tdwg.org/dwc/text/}"
REQUIRED_OCCURRENCE = ["occurrenceID", "basisOfRecord", "scientificName", "eventDate", "eventTime",
                       "decimalLatitude", "decimalLongitude", "geodeticDatum", "coordinateUncertaintyInMeters",
                       "countryCode", "taxonRank", "kingdom", "recordedBy", "license",
                       "identificationVerificationStatus", "dataGeneralizations", "informationWithheld",
                       "associatedMedia"]
REQUIRED_MEDIA = ["type", "accessURI", "format", "rights", "freqLow", "freqHigh", "mediaDuration", "captureDevice"]
ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}:\d{2}Z)?)?)?$")


def read_tsv(zf: zipfile.ZipFile, name: str) -> list[dict]:
    lines = zf.read(name).decode("utf-8").split("\n")
    assert lines[-1] == ""
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:-1]]
    assert all(len(r) == len(header) for r in rows), "every row has as many cells as the header"
    return [dict(zip(header, r)) for r in rows]


def check_meta(zf: zipfile.ZipFile) -> dict[str, list[str]]:
    """meta.xml maps every column of both files to a term URI; returns {file: [term names]}."""
    root = ET.fromstring(zf.read("meta.xml"))
    assert root.tag == f"{DWC_TEXT}archive" and root.get("metadata") == "eml.xml"
    out = {}
    for part, row_type, terms in (("core", dwca.OCCURRENCE_ROW_TYPE, dwca.OCCURRENCE_TERMS),
                                  ("extension", dwca.MULTIMEDIA_ROW_TYPE, dwca.MULTIMEDIA_TERMS)):
        el = root.find(f"{DWC_TEXT}{part}")
        assert el.get("rowType") == row_type and el.get("ignoreHeaderLines") == "1"
        assert el.get("fieldsTerminatedBy") == "\\t" and el.get("encoding") == "UTF-8"
        location = el.find(f"{DWC_TEXT}files/{DWC_TEXT}location").text
        header = zf.read(location).decode().split("\n", 1)[0].split("\t")
        fields = {int(f.get("index")): f.get("term") for f in el.findall(f"{DWC_TEXT}field")}
        assert sorted(fields) == list(range(1, len(header)))
        for index, term in fields.items():
            assert dict(terms)[header[index]] == term, (term, header[index])
        out[location] = header
    return out


@pytest.fixture
def mixed(make_obs, player, catalogue):
    """Real demo observations plus an app observation with a recording, and an obscured one."""
    import_observations(FIXTURE_OBSERVATIONS)
    backfill(Observation.objects.filter(source_id__in=["173620", "32051"]))   # public clips of two fixture clips
    return {"sensitive": make_obs("Puerto Rican Amazon", -65.79, 18.31, observer=player, status="needs_id")}


def test_dwca_has_every_required_term_and_valid_values(mixed, researcher):
    response = client_for(researcher).get("/api/v1/map/export.zip?date_from=2000-01-01")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(response.content))
    assert set(zf.namelist()) == {"meta.xml", "eml.xml", "occurrence.txt", "multimedia.txt"}
    headers = check_meta(zf)
    assert set(REQUIRED_OCCURRENCE) <= set(headers["occurrence.txt"])
    assert set(REQUIRED_MEDIA) <= set(headers["multimedia.txt"])
    occ = read_tsv(zf, "occurrence.txt")
    assert len(occ) == int(response["X-Record-Count"]) > 400
    assert len({r["occurrenceID"] for r in occ}) == len(occ)
    for r in occ:
        assert r["basisOfRecord"] in ("HumanObservation", "MachineObservation")
        assert r["scientificName"] and r["kingdom"] == "Animalia" and r["taxonRank"] in ("species", "kingdom")
        assert ISO_DATE.match(r["eventDate"]), r["eventDate"]
        assert r["eventTime"] == "" or re.match(r"^\d{2}:\d{2}:\d{2}Z$", r["eventTime"])
        assert -90 <= float(r["decimalLatitude"]) <= 90 and -180 <= float(r["decimalLongitude"]) <= 180
        assert r["geodeticDatum"] == "EPSG:4326" and float(r["coordinateUncertaintyInMeters"]) > 0
        assert re.match(r"^[A-Z]{2}$", r["countryCode"]), r
        assert (r["recordedBy"] or r["informationWithheld"]) and r["license"].startswith("https://creativecommons.org/")
        assert r["identificationVerificationStatus"] in ("verified", "unverified")
        # an obscured record links to no xeno-canto file (that page shows the exact place)
        assert r["associatedMedia"].startswith("http") or r["informationWithheld"]
        assert bool(r["dataGeneralizations"]) == bool(r["informationWithheld"])
    sensitive = next(r for r in occ if r["occurrenceID"] == f"dawnchorus:obs:{mixed['sensitive'].pk}")
    assert sensitive["basisOfRecord"] == "MachineObservation"  # nobody verified it yet
    assert sensitive["dataGeneralizations"] and sensitive["informationWithheld"]
    assert sum(r["basisOfRecord"] == "HumanObservation" for r in occ) == len(occ) - 1  # xeno-canto: human IDs
    media = read_tsv(zf, "multimedia.txt")
    assert {m["coreid"] for m in media} <= {r["occurrenceID"] for r in occ}
    for m in media:
        assert m["type"] == "Sound" and m["accessURI"].startswith("http") and m["format"].startswith("audio/")
        # measured on our audio only: empty for xeno-canto's files
        assert (m["freqLow"] == m["freqHigh"] == "") or float(m["freqLow"]) < float(m["freqHigh"])
        assert m["rights"]
    local = [m for m in media if "/api/v1/clips/" in m["accessURI"]]
    assert len(local) == 2 and {m["format"] for m in local} == {"audio/ogg"}, "public clips of the fixture clips"
    assert not [m for m in media if "/api/v1/map/observations/" in m["accessURI"]], "never the private audio route"
    eml = ET.fromstring(zf.read("eml.xml"))
    assert eml.find("dataset/title").text and eml.find("dataset/pubDate").text
    assert str(len(occ)) in eml.find("dataset/abstract/para").text


def test_basis_of_record_turns_human_after_verification(make_obs, researcher):
    obs = make_obs("Bananaquit", status="needs_id")
    def basis():
        rows = csv.DictReader(io.StringIO(client_for(researcher).get("/api/v1/map/export.csv").content.decode()))
        return next(r for r in rows if r["occurrenceID"] == f"dawnchorus:obs:{obs.pk}")["basisOfRecord"]
    assert basis() == "MachineObservation"
    obs.status = "research"
    obs.save()
    assert basis() == "HumanObservation"


def test_csv_and_geojson_for_a_player_with_filters(make_obs, player):
    make_obs("Bananaquit", when=datetime(2024, 5, 1, 6, tzinfo=timezone.utc))
    make_obs("Puerto Rican Tody", when=datetime(2024, 5, 2, 6, tzinfo=timezone.utc))
    client = client_for(player)
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/map/export.csv?species=Bananaquit").content.decode())))
    assert [r["vernacularName"] for r in rows] == ["Bananaquit"]
    body = client.get("/api/v1/map/export.geojson?date_from=2024-05-02").json()
    assert body["type"] == "FeatureCollection"
    assert [f["properties"]["vernacularName"] for f in body["features"]] == ["Puerto Rican Tody"]


def test_player_cannot_export_dwca_or_more_than_the_limit(mixed, player):
    client = client_for(player)
    refused = client.get("/api/v1/map/export.zip")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    too_many = client.get("/api/v1/map/export.csv")  # 471 rows is under the limit...
    assert too_many.status_code == 200
    from server.maps import export_views
    export_views.PUBLIC_EXPORT_LIMIT, old = 100, PUBLIC_EXPORT_LIMIT
    try:
        over = client.get("/api/v1/map/export.geojson")
    finally:
        export_views.PUBLIC_EXPORT_LIMIT = old
    assert over.status_code == 403 and over.json()["error"]["code"] == "export_limit_exceeded"
    assert over.json()["error"]["fields"]["limit"] == 100
    assert client_for(None).get("/api/v1/map/export.csv?bbox=1,2,3").json()["error"]["code"] == "invalid_bbox"


def test_async_export_job_reports_progress_and_downloads(mixed, researcher, player,
                                                         django_capture_on_commit_callbacks):
    client = client_for(researcher)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = client.post("/api/v1/map/exports/", {"format": "dwca", "filters": {"species": "Bananaquit"}},
                              format="json")
    assert created.status_code == 202 and len(callbacks) == 1
    job_id = created.json()["id"]
    status = client.get(f"/api/v1/map/exports/{job_id}/").json()
    assert status["status"] == "queued" and status["progress"] == 0 and status["download_url"] is None
    assert client.get(f"/api/v1/map/exports/{job_id}/download/").json()["error"]["code"] == "export_not_ready"
    assert run_export(job_id) == "done"
    assert run_export(job_id) == "skipped"  # idempotent on redelivery
    status = client.get(f"/api/v1/map/exports/{job_id}/").json()
    assert status["status"] == "done" and status["progress"] == 1.0 and status["total"] == status["done"] > 0
    download = client.get(status["download_url"])
    rows = read_tsv(zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))), "occurrence.txt")
    assert len(rows) == status["total"] and {r["vernacularName"] for r in rows} == {"Bananaquit"}
    assert client_for(player).get(f"/api/v1/map/exports/{job_id}/").status_code == 403
    assert ExportJob.objects.get(pk=job_id).file.startswith("exports/")


@pytest.mark.parametrize("body,code", [
    ({"format": "xlsx"}, "invalid_format"),
    ({"format": "csv", "filters": {"species": "Dodo"}}, "invalid_filter"),
    ({"format": "csv", "filters": {"colour": "red"}}, "invalid_filter"),
    ({"format": "csv", "filters": ["species"]}, "invalid_filter"),
    ({"format": "csv", "bbox": "0,0,0,0"}, "invalid_bbox"),
])
def test_bad_export_requests(catalogue, researcher, body, code):
    response = client_for(researcher).post("/api/v1/map/exports/", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert ExportJob.objects.count() == 0


def test_async_exports_need_the_researcher_role(catalogue, player):
    response = client_for(player).post("/api/v1/map/exports/", {"format": "csv"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
