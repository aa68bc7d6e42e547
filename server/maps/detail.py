"""One observation as the map's popup shows it, with geoprivacy applied for the asking user."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse

from server.common.permissions import is_researcher
from server.game.identification_reads import current_identifications
from server.observations import public_clips, record_terms
from server.observations.public_reads import Source, Status
from server.observations.publication import public_cell, sees_true_location, shown_answers, shown_time
from server.observations.services import public_uncertainty_m

if TYPE_CHECKING:
    from server.observations.models import Observation


def is_human_verified(obs: Observation) -> bool:
    """People vouched for the identification: research grade, or identified by the recordist."""
    return obs.status == Status.RESEARCH or obs.source == Source.XENO_CANTO


def basis_of_record(obs: Observation) -> str:
    """Darwin Core basisOfRecord: MachineObservation until people verify it, HumanObservation after."""
    return "HumanObservation" if is_human_verified(obs) else "MachineObservation"


def model_info(obs: Observation) -> dict | None:
    if obs.recording_id is None:
        return None
    rec = obs.recording
    summary = (rec.analysis or {}).get("classification") or {}
    return {"device_model_version": rec.device_model_version or None, "device_confidence": rec.device_confidence,
            "server_model_version": summary.get("model_version") or summary.get("version"),
            "ranked": summary.get("ranked", [])[:5]}


def observation_detail(obs: Observation, user, build_uri) -> dict:
    """The popup's data. ``build_uri(path)`` makes absolute URLs.

    Withheld (obscured, and the user is neither a researcher nor the owner): the public point and its
    ``cell``, the date only, and no locality, recordist or source link (xeno-canto pages show exact places)."""
    privileged = sees_true_location(user, obs)
    point = obs.location if privileged else obs.public_location
    withheld = obs.obscured and not privileged
    clip = public_clips.clip_url(obs)
    own_or_research = is_researcher(user) or (obs.observer_id is not None and obs.observer_id == user.id)
    observed_at, precision = shown_time(obs, withheld)
    source_url = "" if withheld else obs.source_url
    licence = public_clips.effective_licence(obs)  # the same licence as the CSV and the archive
    return {
        "id": obs.pk,
        "species": {"label": obs.species.label, "common_name": obs.species.common_name,
                    "scientific_name": obs.species.scientific_name, "sensitive": obs.species.sensitive},
        "geometry": {"type": "Point", "coordinates": [point.x, point.y]},
        "cell": public_cell(obs) if withheld else None,
        "coordinate_uncertainty_m": obs.coordinate_uncertainty_m if privileged else public_uncertainty_m(obs),
        "obscured": withheld,
        "locality": "" if withheld else obs.locality,
        "observed_at": observed_at, "date_precision": precision,
        "grade": obs.status, "confidence": obs.confidence, "sound_type": obs.sound_type,
        "basis_of_record": basis_of_record(obs),
        "recordist": "" if withheld else obs.recordist, "source": obs.source,
        "license": licence, "license_name": record_terms.license_name(licence),
        "rating": obs.rating, "background_species": list(obs.background_species),
        "source_url": source_url,
        "model": model_info(obs),
        "kind_conflict": obs.kind_conflict, "answers": shown_answers(obs, withheld),
        "identifications": current_identifications(obs.pk),
        "audio_url": build_uri(clip) if clip else None,
        "spectrogram_url": build_uri(reverse("map-observation-spectrogram", args=[obs.pk])) if clip else None,
        "recording_url": (build_uri(reverse("recording-detail", args=[obs.recording_id]))
                          if obs.recording_id and own_or_research else source_url or None),
    }
