"""Expert review queue ordered by active learning (medoid-based selection).

1. Embed every unreviewed recording with the current model's backbone (cached per model version).
2. k-medoids (k ≈ N/3, farthest-first initialisation) over the embeddings.
3. Serve the medoids of the largest clusters first (ties: the more uncertain first), then the
   other members by uncertainty. Uncertainty = 1 − classifier confidence + disagreement among
   identifications (+0.5 when the phone's and the server's labels differ).

A researcher's label sets the observation's species and makes it research grade; it may propagate to
the rest of the medoid's cluster (marked propagated: species set, grade by the usual rules). Label rows
are never changed or deleted: each keeps the species and grade it replaced, and each change of species
is also a ``SpeciesChange`` row of the observation's history.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from django.db import transaction
from rest_framework import status

from ml.runtime.audio import decode
from server.common.errors import ApiError
from server.observations import player_reads
from server.observations.services import record_review
from server.recordings import storage
from server.species.lookup import species_by_label

from . import identifications
from .kmedoids import default_k, kmedoids
from .ledger import AwardBatch
from .models import RecordingEmbedding, ReviewClusterMember, ReviewLabel, TaxonCause

if TYPE_CHECKING:
    from server.observations.models import Observation
    from server.species.models import Species

MAX_QUEUE = 400


def classifier():
    """The backbone used for embeddings: the registry's current field model."""
    from server.modelregistry.services import current_classifier

    return current_classifier()


def embed(obs: Observation, model) -> np.ndarray:
    """Mean window embedding of the recording's marked segment (cached)."""
    rec = obs.recording
    cached = RecordingEmbedding.objects.filter(recording=rec, model_version=model.version).first()
    if cached is not None:
        return np.frombuffer(bytes(cached.vector), dtype=np.float32)
    samples, sr = decode(storage.read_blob(rec.audio_path))
    start, end = int(rec.segment_start_s * sr), max(int(rec.segment_end_s * sr), int(rec.segment_start_s * sr) + 1)
    vector = np.asarray(model.embed_windows(samples[start:end], sr), dtype=np.float32).mean(axis=0)
    RecordingEmbedding.objects.get_or_create(recording=rec, model_version=model.version,
                                             defaults={"vector": vector.tobytes(), "dim": vector.size})
    return vector


def segment_spectrogram_png(obs: Observation) -> bytes:
    """A PNG spectrogram of the recording's marked segment (the private audio, for researchers only).
    Raises ``OSError``/``ValueError`` when the audio cannot be read or decoded."""
    from server.maps.spectrogram import render_png

    rec = obs.recording
    samples, sr = decode(storage.read_blob(rec.audio_path))
    start = int(rec.segment_start_s * sr)
    end = max(int(rec.segment_end_s * sr), start + sr // 10)
    return render_png(samples[start:end], sr)


def uncertainty(obs: Observation) -> float:
    labels = [obs.species_id] + [i.species_id for i in obs.identifications.all() if i.withdrawn_at is None]
    disagreement = 1.0 - labels.count(obs.species_id) / len(labels)
    claim_differs = 0.5 if (obs.recording.claimed_species_id not in (None, obs.species_id)) else 0.0
    analysis_label = (obs.recording.analysis or {}).get("classification", {}).get("label")
    if analysis_label and analysis_label != obs.species.label:
        claim_differs = 0.5
    return (1.0 - (obs.confidence or 0.0)) + disagreement + claim_differs


def unreviewed():
    return (player_reads.recorded_queue().filter(review_label__isnull=True)
            .prefetch_related("identifications")[:MAX_QUEUE])


def build_queue() -> list[dict]:
    """The queue, most informative first; stores each observation's cluster for label propagation."""
    items = list(unreviewed())
    if not items:
        return []
    model = classifier()
    vectors, kept = [], []
    for obs in items:
        try:
            vectors.append(embed(obs, model))
            kept.append(obs)
        except (OSError, ValueError):
            continue  # unreadable audio: not reviewable by ear either
    if not kept:
        return []
    x = np.stack(vectors)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    clustering = kmedoids(x, default_k(len(kept)))
    sizes = clustering.sizes()
    scores = [uncertainty(o) for o in kept]
    medoid_set = {int(m) for m in clustering.medoids}
    entries = []
    for i, obs in enumerate(kept):
        c = int(clustering.labels[i])
        medoid = kept[int(clustering.medoids[c])]
        entries.append({"observation": obs, "medoid": medoid, "is_medoid": i in medoid_set,
                        "cluster": c, "cluster_size": int(sizes[c]), "uncertainty": round(scores[i], 4)})
    entries.sort(key=lambda e: (not e["is_medoid"], -e["cluster_size"] if e["is_medoid"] else 0,
                                -e["uncertainty"]))
    with transaction.atomic():
        ReviewClusterMember.objects.filter(observation__in=[o.pk for o in kept]).delete()
        ReviewClusterMember.objects.bulk_create([
            ReviewClusterMember(observation=e["observation"], medoid=e["medoid"], cluster_size=e["cluster_size"])
            for e in entries])
    return entries


def _apply(obs_id: int, species: Species, reviewer, batch: AwardBatch, source: Observation | None) -> ReviewLabel:
    """One label row (keeping the species and grade it replaces), then the new species and grade."""
    obs = player_reads.locked(obs_id)
    if obs is None:
        raise LookupError(f"observation {obs_id} is gone")
    row = ReviewLabel.objects.create(observation=obs, species=species, reviewer=reviewer,
                                     propagated=source is not None, propagated_from=source,
                                     previous_species_id=obs.species_id, previous_status=obs.status)
    cause = TaxonCause.PROPAGATED if source is not None else TaxonCause.REVIEW
    if not identifications.change_species(obs, species.label, cause, reviewer):
        record_review(obs, species)  # the label confirms the species: still reviewed
    identifications.regrade(obs, batch, actor=reviewer)
    return row


def label(reviewer, observation_id: int, species_label: str, propagate: bool, batch: AwardBatch) -> list[ReviewLabel]:
    """Label one observation; with ``propagate`` also the unreviewed rest of its cluster (if a medoid).

    The label sets the observation's species; the researcher's own label makes it research grade (at
    species rank; a higher taxon leaves it needing an identification), a propagated one leaves the grade
    to the usual rules (:func:`identifications.current_grade`). Refused,
    changing nothing: an unknown species (400 ``unknown_species``), an observation without a recording
    (404), one labelled already (409 ``already_reviewed``). The caller checks the researcher role."""
    species = species_by_label(str(species_label or "").strip())
    if species is None:
        raise ApiError("unknown_species", "That species is not in the catalogue.", fields={"species": "unknown"})
    obs = player_reads.recorded(observation_id)
    if obs is None:
        raise ApiError("not_found", "No such recorded observation.", status.HTTP_404_NOT_FOUND)
    with transaction.atomic():
        if ReviewLabel.objects.select_for_update().filter(observation=obs).exists():
            raise ApiError("already_reviewed", "This observation has a review label already.",
                           status.HTTP_409_CONFLICT)
        labels = [_apply(obs.pk, species, reviewer, batch, None)]
        if propagate:
            members = (ReviewClusterMember.objects.filter(medoid=obs).exclude(observation=obs)
                       .exclude(observation__review_label__isnull=False).values_list("observation_id", flat=True))
            labels += [_apply(member, species, reviewer, batch, obs) for member in members]
    return labels
