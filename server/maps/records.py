"""Observations → export records (always the public, possibly obscured, position).

Exports are meant for sharing (GBIF and others), so even researchers get an obscured record as the
public sees it: the generalised point, the date without the time, no locality, no recordist and no
link to a page that shows the exact place (the xeno-canto page and file); ``dataGeneralizations``
and ``informationWithheld`` say so.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from server.observations.geoprivacy import coarse_date
from server.observations import public_clips, record_terms
from server.observations.public_reads import Source
from server.observations.services import public_uncertainty_m
from server.species.taxonomy import classification_of

from . import dwca
from .countries import country_code
from .detail import basis_of_record, is_human_verified

if TYPE_CHECKING:
    from server.observations.models import Observation

XC_MIME = "audio/mpeg"  # xeno-canto serves its originals as MP3


def event_date(obs: Observation) -> tuple[str, str]:
    """ISO 8601 eventDate at the record's precision, and eventTime when the time is known and published
    (an obscured record: the UTC date at most, no time)."""
    t = obs.observed_at
    if obs.obscured:
        return coarse_date(t, obs.date_precision), ""
    if obs.date_precision == "year":
        return f"{t:%Y}", ""
    if obs.date_precision == "month":
        return f"{t:%Y-%m}", ""
    if obs.date_precision == "day":
        return f"{t:%Y-%m-%d}", ""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ"), t.strftime("%H:%M:%SZ")


def own_page(obs: Observation, absolute: Callable[[str], str]) -> str:
    return absolute(f"/api/v1/map/observations/{obs.pk}/")


def source_page(obs: Observation, absolute: Callable[[str], str]) -> str:
    """dc:references: the source page, except for an obscured record (that page shows the exact place)."""
    return (obs.source_url if not obs.obscured else "") or own_page(obs, absolute)


def media_url(obs: Observation, absolute: Callable[[str], str]) -> tuple[str, str] | None:
    """(accessURI, MIME type) of the sound, if any (never xeno-canto's file for an obscured record)."""
    clip = public_clips.clip_url(obs)
    if clip is not None:
        return absolute(clip), public_clips.CONTENT_TYPE
    if obs.source == Source.XENO_CANTO and obs.source_id and not obs.obscured:
        return f"https://xeno-canto.org/{obs.source_id}/download", XC_MIME
    return None


def occurrence(obs: Observation, absolute: Callable[[str], str]) -> dict:
    point = obs.public_location
    date, clock = event_date(obs)
    media = media_url(obs, absolute)
    uncertainty = round(public_uncertainty_m(obs) or 30.0, 1)
    taxon = obs.species
    return {
        "id": f"dawnchorus:obs:{obs.pk}", "occurrenceID": f"dawnchorus:obs:{obs.pk}",
        "basisOfRecord": basis_of_record(obs), "occurrenceStatus": "present",
        "scientificName": taxon.scientific_name, "vernacularName": taxon.common_name,
        "taxonRank": taxon.rank if taxon.is_taxon else "", **classification_of(taxon.pk),
        "eventDate": date, "eventTime": clock,
        "decimalLatitude": round(point.y, 5), "decimalLongitude": round(point.x, 5), "geodeticDatum": "EPSG:4326",
        "coordinateUncertaintyInMeters": uncertainty,
        "countryCode": country_code(round(point.x, 5), round(point.y, 5), uncertainty),
        "locality": "" if obs.obscured else obs.locality,
        "recordedBy": "" if obs.obscured else obs.recordist, "license": public_clips.effective_licence(obs),
        "rightsHolder": "" if obs.obscured else obs.recordist,
        "associatedTaxa": record_terms.associated_taxa(obs.background_species),
        "identificationVerificationStatus": "verified" if is_human_verified(obs) else "unverified",
        "dataGeneralizations": dwca.GENERALISED if obs.obscured else "",
        "informationWithheld": dwca.WITHHELD if obs.obscured else "",
        "associatedMedia": media[0] if media else "",
        "occurrenceRemarks": remarks(obs),
        "rating": obs.rating,
        "references": source_page(obs, absolute),
    }


def remarks(obs: Observation) -> str:
    """occurrenceRemarks: the grade, the model's confidence, and the sound-quality rating when there is one."""
    parts = [f"grade {obs.status}"]
    if obs.confidence is not None:
        parts.append(f"model confidence {obs.confidence}")
    if obs.rating:
        parts.append(f"sound quality {obs.rating} (A best, E worst)")
    return "; ".join(parts)


def multimedia(obs: Observation, absolute: Callable[[str], str]) -> dict | None:
    media = media_url(obs, absolute)
    if media is None:
        return None
    rec = obs.recording if obs.recording_id else None
    licence = public_clips.effective_licence(obs)
    low, high = measured_band(obs)
    return {"coreid": f"dawnchorus:obs:{obs.pk}", "identifier": media[0], "accessURI": media[0],
            "type": dwca.SOUND_TYPE, "typeURI": dwca.SOUND_TYPE_URI, "format": media[1],
            "title": f"{obs.species.common_name} ({obs.species.scientific_name})" if obs.species.scientific_name
            else obs.species.common_name,
            "rights": licence, "WebStatement": licence, "UsageTerms": record_terms.license_name(licence),
            "creator": "" if obs.obscured else obs.recordist, "Owner": "" if obs.obscured else obs.recordist,
            "Rating": record_terms.XMP_RATING.get(obs.rating, 0),
            "freqLow": low, "freqHigh": high,
            "mediaDuration": round(rec.duration_s, 2) if rec else "",
            "captureDevice": (rec.device_info or {}).get("model", "") if rec else "",
            "furtherInformationURL": source_page(obs, absolute)}


def measured_band(obs: Observation) -> tuple[float | None, float | None]:
    """ac:freqLow/ac:freqHigh: the band measured on the recording's marked segment at analysis
    (``analysis["band_hz"]``, ml.runtime.frequency_band); none for a record without our audio (a
    xeno-canto import) or one analysed before the measurement existed."""
    band = (obs.recording.analysis or {}).get("band_hz") if obs.recording_id else None
    if isinstance(band, list) and len(band) == 2 and all(isinstance(v, (int, float)) for v in band):
        return float(band[0]), float(band[1])
    return None, None


def geojson_feature(obs: Observation, absolute: Callable[[str], str]) -> dict:
    occ = occurrence(obs, absolute)
    props = {k: v for k, v in occ.items() if k not in ("decimalLatitude", "decimalLongitude", "id")}
    props.update(id=obs.pk, grade=obs.status, confidence=obs.confidence, obscured=obs.obscured)
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [occ["decimalLongitude"],
                                                                           occ["decimalLatitude"]]},
            "properties": props}


def iter_observations(qs, chunk: int = 2000) -> Iterator[Observation]:
    yield from qs.select_related("species", "recording").order_by("id").iterator(chunk_size=chunk)
