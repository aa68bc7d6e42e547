"""A record's licence, sound-quality rating and background species (server/observations/record_terms.py):
chosen at upload, edited by the recordist (licence) and by reviewers (rating, background), kept from
xeno-canto on import, filtered on, and the same in the popup, the GeoJSON API, the CSV and the archive."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from server.observations import record_terms
from server.observations.demo_import import FIXTURE_OBSERVATIONS, import_observations
from server.observations.models import Observation
from server.recordings.models import Recording, Status
from server.recordings.tasks import analyse_recording

from .conftest import client_for, metadata, submit

pytestmark = pytest.mark.django_db
WARBLER = Path(__file__).resolve().parents[2] / "fixtures" / "audio" / "XC173620_adelaides_warbler.ogg"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC_BY_NC = "https://creativecommons.org/licenses/by-nc/4.0/"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"


def upload(api, **terms) -> dict:
    meta = metadata(identification={"label": "Adelaide's Warbler", "confidence": 0.8, "model_version": "t"},
                    segment={"start_s": 1.0, "end_s": 4.0}, **terms)
    return submit(api, WARBLER.read_bytes(), meta)


def observed(response) -> Observation:
    assert response.status_code == 201, response.content
    rec_id = response.json()["id"]
    analyse_recording(rec_id)
    rec = Recording.objects.get(pk=rec_id)
    assert rec.status == Status.ACCEPTED, rec.reject_code
    return Observation.objects.get(recording=rec)


@pytest.mark.parametrize("url, name", [
    (CC_BY_NC, "CC BY-NC 4.0"), (CC0, "CC0 1.0"), ("https://creativecommons.org/licenses/by-nc-sa/3.0/",
                                                     "CC BY-NC-SA 3.0"),
    ("//creativecommons.org/licenses/by-nc-nd/2.5/", "CC BY-NC-ND 2.5"), ("", "")])
def test_licence_names(url, name):
    assert record_terms.license_name(url) == name


def test_background_column_is_split_without_repeats():
    assert record_terms.split_background("Vireo latimeri; Coereba flaveola;Vireo latimeri, ") == [
        "Vireo latimeri", "Coereba flaveola"]
    assert record_terms.associated_taxa(["Vireo latimeri"]) == '"heard in background":"Vireo latimeri"'


def test_upload_carries_the_chosen_licence_rating_and_background(api, catalogue):
    obs = observed(upload(api, license="cc0-1.0", rating="b", background_species=["Bananaquit", "Vireo latimeri"]))
    assert obs.license == CC0 and obs.rating == "B"
    assert obs.background_species == ["Coereba flaveola", "Vireo latimeri"]
    detail = client_for(None).get(f"/api/v1/map/observations/{obs.pk}/").json()
    assert detail["license"] == CC0 and detail["license_name"] == "CC0 1.0" and detail["rating"] == "B"
    assert detail["audio_url"]  # an open licence: a public clip


def test_upload_without_a_choice_is_cc_by_nc(api, catalogue):
    obs = observed(upload(api))
    assert obs.license == CC_BY_NC and obs.rating == "" and obs.background_species == []
    detail = client_for(None).get(f"/api/v1/map/observations/{obs.pk}/").json()
    assert detail["license"] == CC_BY_NC and detail["license_name"] == "CC BY-NC 4.0"  # never "–"


@pytest.mark.parametrize("terms, code, field", [
    ({"license": "cc-by-sa-4.0"}, "invalid_license", "license"),
    ({"license": "https://creativecommons.org/licenses/by/4.0/"}, "invalid_license", "license"),
    ({"license": 3}, "invalid_license", "license"),
    ({"license": None}, "invalid_license", "license"),
    ({"rating": "F"}, "invalid_rating", "rating"),
    ({"rating": "AB"}, "invalid_rating", "rating"),
    ({"rating": 1}, "invalid_rating", "rating"),
    ({"background_species": "Bananaquit"}, "invalid_background_species", "background_species"),
    ({"background_species": ["Dodo"]}, "invalid_background_species", "background_species"),
    ({"background_species": [""]}, "invalid_background_species", "background_species"),
])
def test_bad_terms_at_upload_are_refused_and_nothing_is_written(api, catalogue, terms, code, field):
    before = Recording.objects.count()
    response = upload(api, **terms)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code and field in error["fields"]
    assert Recording.objects.count() == before


def test_the_recordist_changes_the_licence_and_reviewers_rate(api, player, other_player, researcher, catalogue):
    obs = observed(upload(api))
    url = f"/api/v1/observations/{obs.pk}/terms/"
    changed = api.patch(url, {"license": "cc-by-4.0", "rating": "C"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["properties"]["license"] == CC_BY and changed.json()["properties"]["rating"] == "C"
    reviewed = client_for(researcher).patch(url, {"rating": "a", "background_species": ["Bananaquit"]},
                                            format="json")
    assert reviewed.status_code == 200
    obs.refresh_from_db()
    assert (obs.license, obs.rating, obs.background_species) == (CC_BY, "A", ["Coereba flaveola"])

    for client, body in ((client_for(researcher), {"license": "cc0-1.0"}),       # not the rights holder
                         (client_for(other_player), {"rating": "E"}),            # neither recordist nor reviewer
                         (client_for(other_player), {"license": "cc0-1.0", "rating": "E"})):
        refused = client.patch(url, body, format="json")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert client_for(None).patch(url, {"rating": "E"}, format="json").status_code == 401
    for body, code in (({"license": "all-rights-reserved"}, "invalid_license"), ({"rating": "Z"}, "invalid_rating"),
                       ({"rating": "B", "license": "cc-by-sa"}, "invalid_license")):
        refused = api.patch(url, body, format="json")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == code
    obs.refresh_from_db()
    assert (obs.license, obs.rating, obs.background_species) == (CC_BY, "A", ["Coereba flaveola"])  # unchanged
    for missing in ("999999", "abc", "9" * 40, "１２"):
        gone = api.patch(f"/api/v1/observations/{missing}/terms/", {"rating": "A"}, format="json")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    for names in (["Banana\x00quit"], ["x" * 121], ["Bananaquit"] * 21):
        refused = api.patch(url, {"background_species": names}, format="json")
        assert refused.status_code == 400, names
    surrogate = api.patch(url, '{"background_species": ["\\ud800"]}', content_type="application/json")
    assert surrogate.status_code == 400


@pytest.fixture
def demo(catalogue):
    import_observations(FIXTURE_OBSERVATIONS)


def test_import_keeps_quality_and_background_species(demo):
    rows = {r["xc_id"]: r for r in csv.DictReader(open(FIXTURE_OBSERVATIONS, encoding="utf-8"))}
    imported = {o.source_id: o for o in Observation.objects.filter(source="xeno-canto")}
    assert len(imported) == len(rows)
    for xc_id, row in rows.items():
        assert imported[xc_id].rating == row["quality"]
        assert imported[xc_id].background_species == record_terms.split_background(row["also"])
    assert sum(bool(o.background_species) for o in imported.values()) == 89


def test_import_reads_background_from_the_manifest_beside_a_file_without_also(catalogue, tmp_path):
    rows = list(csv.DictReader(open(FIXTURE_OBSERVATIONS, encoding="utf-8")))[:3]
    fields = [f for f in rows[0] if f != "also"]
    with open(tmp_path / "observations.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(tmp_path / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        fh.write(f"file,xc_id,also\naudio/x.ogg,{rows[0]['xc_id']},Vireo latimeri; Coereba flaveola\n")
    import_observations(tmp_path / "observations.csv")
    obs = Observation.objects.get(source_id=rows[0]["xc_id"])
    assert obs.background_species == ["Vireo latimeri", "Coereba flaveola"]
    assert Observation.objects.get(source_id=rows[1]["xc_id"]).background_species == []


def test_filters_by_rating_and_background(demo):
    anon = client_for(None)
    ones = anon.get("/api/v1/observations/?rating=E&page_size=1000").json()
    assert ones["count"] == Observation.objects.filter(rating="E").count() > 0
    assert {f["properties"]["rating"] for f in ones["features"]} == {"E"}
    both = anon.get("/api/v1/observations/?rating=a,b&page_size=1").json()["count"]
    assert both == Observation.objects.filter(rating__in="AB").count()
    heard = anon.get("/api/v1/observations/?background=Coereba flaveola&page_size=1000").json()
    assert heard["count"] == Observation.objects.filter(background_species__contains=["Coereba flaveola"]).count() > 0
    assert all("Coereba flaveola" in f["properties"]["background_species"] for f in heard["features"])
    for bad in ("F", "A,Z", "1"):
        refused = anon.get(f"/api/v1/observations/?rating={bad}")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_rating"
    # the map's own filters (tiles, exports, species pages) parse the same parameter
    csv_text = anon.get("/api/v1/map/export.csv?rating=E").content.decode()
    exported = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(exported) == Observation.objects.filter(rating="E").count()
    assert {r["rating"] for r in exported} == {"E"}
    assert anon.get("/api/v1/map/export.csv?rating=Q").json()["error"]["code"] == "invalid_rating"


def test_one_licence_per_record_in_csv_geojson_and_archive(demo, api, researcher, catalogue):
    app = observed(upload(api, license="cc-by-4.0", rating="A", background_species=["Bananaquit"]))
    researcher_client = client_for(researcher)
    detail = {o.pk: researcher_client.get(f"/api/v1/map/observations/{o.pk}/").json()["license"]
              for o in Observation.objects.all()[:40]}
    detail[app.pk] = researcher_client.get(f"/api/v1/map/observations/{app.pk}/").json()["license"]
    rows = list(csv.DictReader(io.StringIO(researcher_client.get("/api/v1/map/export.csv").content.decode())))
    by_id = {int(r["occurrenceID"].rsplit(":", 1)[1]): r for r in rows}
    for pk, licence in detail.items():
        assert by_id[pk]["license"] == licence and licence  # the popup's licence is the CSV's
    assert by_id[app.pk]["license"] == CC_BY and by_id[app.pk]["rating"] == "A"
    assert by_id[app.pk]["associatedTaxa"] == '"heard in background":"Coereba flaveola"'
    assert "sound quality A" in by_id[app.pk]["occurrenceRemarks"]

    archive = zipfile.ZipFile(io.BytesIO(researcher_client.get("/api/v1/map/export.zip").content))
    occ = {int(r["occurrenceID"].rsplit(":", 1)[1]): r for r in csv.DictReader(
        io.StringIO(archive.read("occurrence.txt").decode()), delimiter="\t", quoting=csv.QUOTE_NONE)}
    media = {int(r["coreid"].rsplit(":", 1)[1]): r for r in csv.DictReader(
        io.StringIO(archive.read("multimedia.txt").decode()), delimiter="\t", quoting=csv.QUOTE_NONE)}
    for pk, licence in detail.items():
        assert occ[pk]["license"] == licence
        if pk in media:
            assert media[pk]["rights"] == licence
    assert occ[app.pk]["rightsHolder"] == app.recordist and media[app.pk]["Owner"] == app.recordist
    assert media[app.pk]["Rating"] == "5"  # xmp:Rating of an A
    counts: dict[str, int] = {}
    for r in occ.values():
        counts[r["license"]] = counts.get(r["license"], 0) + 1
    rights = ET.fromstring(archive.read("eml.xml")).find("dataset/intellectualRights")
    text = ET.tostring(rights, encoding="unicode")
    assert "Each record carries its own licence" in text
    for url, n in counts.items():   # every licence in the archive is named, with its count, and no other
        assert f'url="{url}"' in text and f"{record_terms.license_name(url)}</citetitle></ulink>: {n} record" in text
    assert len(rights.findall(".//ulink")) == len(counts) > 3
