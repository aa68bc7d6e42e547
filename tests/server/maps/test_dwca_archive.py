"""The Darwin Core Archive read back with python-dwca-reader, as GBIF's tools read it: every
GBIF-required and recommended occurrence term, the Audiovisual Media extension's terms, literal terms
holding literals and URI terms holding URIs, a real country per record, the sound's measured band."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from dwca.read import DwCAReader

from server.maps import dwca
from server.maps.public_clip_backfill import backfill
from server.observations.demo_import import FIXTURE_OBSERVATIONS, import_observations
from server.observations.models import Observation
from server.recordings.models import Recording, Status
from server.recordings.tasks import analyse_recording

from ..conftest import client_for, metadata, submit

pytestmark = pytest.mark.django_db
AUDIO = Path(__file__).resolve().parents[3] / "fixtures" / "audio"
DWC, DC, DCE, AC = dwca.DWC, dwca.DC, dwca.DC_ELEMENTS, dwca.AC
XMP_RIGHTS = dwca.XMP_RIGHTS

# GBIF's occurrence data-quality requirements: required, then recommended (individualCount, organismQuantity,
# institutionCode and collectionCode do not apply: a sound recording counts no individuals and no collection
# holds a specimen)
GBIF_REQUIRED = [DWC + t for t in ("occurrenceID", "basisOfRecord", "scientificName", "eventDate")]
GBIF_RECOMMENDED = [DWC + t for t in ("taxonRank", "kingdom", "decimalLatitude", "decimalLongitude", "geodeticDatum",
                                      "coordinateUncertaintyInMeters", "countryCode", "occurrenceStatus")] + [
    DC + "license"]
ALWAYS_FILLED = GBIF_REQUIRED + GBIF_RECOMMENDED
# Audiovisual Media Description: the identifier (required), type, access, format, rights, agents, the sound's band
AC_TERMS = [DC + "identifier", DCE + "type", DC + "type", AC + "accessURI", DCE + "format", DC + "rights",
            XMP_RIGHTS + "WebStatement", XMP_RIGHTS + "UsageTerms", DCE + "creator", XMP_RIGHTS + "Owner",
            AC + "freqLow", AC + "freqHigh", AC + "mediaDuration", AC + "furtherInformationURL", DC + "title"]
URI_TERMS = {DC + "license", DC + "references", DC + "type", DC + "rights", AC + "accessURI",
             AC + "furtherInformationURL", XMP_RIGHTS + "WebStatement"}
LITERAL_TERMS = {DCE + "type", DCE + "format", DCE + "creator", XMP_RIGHTS + "UsageTerms", XMP_RIGHTS + "Owner",
                 DC + "title", DC + "rightsHolder"} | {DWC + t for t in (
                     "recordedBy", "scientificName", "vernacularName", "taxonRank", "kingdom", "countryCode",
                     "locality", "basisOfRecord", "occurrenceStatus")}
MIME = re.compile(r"^audio/[a-z0-9.+-]+$")
ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}:\d{2}Z)?)?)?$")


def is_uri(value: str) -> bool:
    parts = urlparse(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


@pytest.fixture
def archive(api, catalogue, researcher, tmp_path, make_obs) -> Path:
    """The demo import, two imported public clips, a sensitive obscured record and an app recording
    analysed by the real pipeline, exported as the researcher downloads it."""
    import_observations(FIXTURE_OBSERVATIONS)
    backfill(Observation.objects.filter(source_id__in=["173620", "32051"]))
    make_obs("Puerto Rican Amazon", -65.79, 18.31, status="needs_id")
    meta = metadata(segment={"start_s": 1.0, "end_s": 4.0},
                    identification={"label": "Adelaide's Warbler", "confidence": 0.8, "model_version": "phone"})
    response = submit(api, (AUDIO / "XC173620_adelaides_warbler.ogg").read_bytes(), meta)
    assert response.status_code == 201, response.content
    analyse_recording(response.json()["id"])
    rec = Recording.objects.get(pk=response.json()["id"])
    assert rec.status == Status.ACCEPTED, rec.reject_reason
    download = client_for(researcher).get("/api/v1/map/export.zip")
    assert download.status_code == 200
    path = tmp_path / "export.zip"
    path.write_bytes(download.content)
    return path


def test_archive_reads_cleanly_with_every_gbif_term(archive):
    with DwCAReader(str(archive)) as reader:
        assert reader.descriptor.core.type == dwca.OCCURRENCE_ROW_TYPE
        assert [e.type for e in reader.descriptor.extensions] == [dwca.MULTIMEDIA_ROW_TYPE]
        assert reader.metadata is not None
        assert not any(reader.orphaned_extension_rows().values()), "every media row belongs to a record"
        core_terms = set(reader.descriptor.core.terms)
        assert set(ALWAYS_FILLED) | {DWC + "recordedBy", DWC + "informationWithheld"} <= core_terms
        assert set(AC_TERMS) <= set(reader.descriptor.extensions[0].terms)
        rows = list(reader)
        assert len(rows) == Observation.objects.exclude(species__scientific_name="").count()
        for row in rows:
            for term in ALWAYS_FILLED:
                assert row.data[term], (term, row.id)
            assert ISO_DATE.match(row.data[DWC + "eventDate"])
            assert row.data[DWC + "basisOfRecord"] in ("HumanObservation", "MachineObservation")
            assert row.data[DWC + "occurrenceStatus"] == "present" and row.data[DWC + "geodeticDatum"] == "EPSG:4326"
            assert row.data[DWC + "taxonRank"] in ("species", "genus", "family", "order", "class", "kingdom")
            assert row.data[DWC + "kingdom"] == "Animalia"
            # every record lies in Puerto Rico or its waters (the cell of an obscured one included)
            assert row.data[DWC + "countryCode"] == "PR", row.data
            assert row.data[DWC + "recordedBy"] or row.data[DWC + "informationWithheld"]


def test_literal_terms_hold_literals_and_uri_terms_uris(archive):
    with DwCAReader(str(archive)) as reader:
        for row in reader:
            for record in [row, *row.extensions]:
                for term, value in record.data.items():
                    if not value:
                        continue
                    if term in URI_TERMS:
                        assert is_uri(value), (term, value)
                    if term in LITERAL_TERMS:
                        assert not is_uri(value), (term, value)
            for media in row.extensions:
                assert media.data[DCE + "type"] == "Sound"
                assert media.data[DC + "type"] == "http://purl.org/dc/dcmitype/Sound"
                assert MIME.match(media.data[DCE + "format"])
                assert media.data[DC + "rights"] == media.data[XMP_RIGHTS + "WebStatement"] == row.data[DC + "license"]
                assert media.data[XMP_RIGHTS + "UsageTerms"].startswith("CC")
                assert is_uri(media.data[AC + "accessURI"]) and media.data[DC + "identifier"]


def test_frequencies_are_measured_on_the_recording(archive):
    app = Observation.objects.get(recording__isnull=False)
    band = app.recording.analysis["band_hz"]
    assert 0 <= band[0] < band[1] <= app.recording.sample_rate / 2
    # Adelaide's Warbler sings high: the measured band is not the catalogue's 2-10 kHz
    assert (band[0], band[1]) != (app.species.band_low_hz, app.species.band_high_hz)
    with DwCAReader(str(archive)) as reader:
        row = reader.get_corerow_by_id(f"dawnchorus:obs:{app.pk}")
        [media] = row.extensions
        assert (float(media.data[AC + "freqLow"]), float(media.data[AC + "freqHigh"])) == (band[0], band[1])
        imported = [m for r in reader for m in r.extensions if r.id != row.id]
        assert imported and all(m.data[AC + "freqLow"] == m.data[AC + "freqHigh"] == "" for m in imported)


def test_higher_taxa_and_non_taxa_in_the_archive(archive):
    with DwCAReader(str(archive)) as reader:
        by_name = {}
        for row in reader:
            by_name.setdefault(row.data[DWC + "scientificName"], row)
        assert "Sonus naturalis" not in by_name and "Mystery mystery" not in by_name and "" not in by_name
        unknown = by_name["Animalia"]
        assert unknown.data[DWC + "taxonRank"] == "kingdom" and unknown.data[DWC + "basisOfRecord"]
        coqui = by_name["Eleutherodactylus coqui"]
        assert (coqui.data[DWC + "class"], coqui.data[DWC + "order"], coqui.data[DWC + "family"],
                coqui.data[DWC + "genus"]) == ("Amphibia", "Anura", "Eleutherodactylidae", "Eleutherodactylus")
        warbler = by_name["Setophaga angelae"]
        assert (warbler.data[DWC + "class"], warbler.data[DWC + "family"]) == ("Aves", "Parulidae")


def test_bands_of_recordings_analysed_before_are_measured_on_their_public_clip(archive):
    from django.core.management import call_command

    rec = Recording.objects.get(observation__isnull=False)
    measured = rec.analysis.pop("band_hz")
    rec.save(update_fields=["analysis"])
    call_command("measure_bands", verbosity=0)
    rec.refresh_from_db()
    low, high = rec.analysis["band_hz"]
    # the public clip is the same segment re-encoded: the same band within a few bins
    assert abs(low - measured[0]) <= 200 and abs(high - measured[1]) <= 200
