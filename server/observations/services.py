"""Creating observations with geoprivacy applied (the only way other apps make them), and the reads other
apps make of observations (they do not query the observations' table themselves)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import Point, Polygon
from django.db.models import Count, Min, Q
from django.utils import timezone

from server.species.lookup import named_classes

from . import public_clips
from .geoprivacy import linkage_window, obscure, obscured_uncertainty_m
from .models import Observation, Source, Status

LINKED_FIELDS = ("public_location", "obscured")
LINKAGE_INPUTS = frozenset({"species", "location", "observed_at", "observer", "recordist"})


def public_point(point: Point, sensitive: bool, seed: str) -> tuple[Point, bool]:
    """The point the public may see, and whether it is obscured."""
    if not sensitive:
        return Point(point.x, point.y, srid=4326), False
    lat, lng = obscure(point.y, point.x, seed)
    return Point(lng, lat, srid=4326), True


def initial_status(casual: bool) -> str:
    """The grade a new observation from analysis starts at: casual, or needs-ID for the community."""
    return Status.CASUAL if casual else Status.NEEDS_ID


def build_observation(*, species, location: Point, seed: str, **fields) -> Observation:
    """An unsaved Observation whose public location honours the species' sensitivity."""
    shown, obscured = public_point(location, species.sensitive, seed)
    return Observation(species=species, location=location, public_location=shown, obscured=obscured, **fields)


def app_observation_count(relation: str = "observations") -> Count:
    """An aggregate counting, through ``relation`` (a user's reverse relation to observations), the
    observations recorded in the app and validated by the server (imports and demo rows left out)."""
    return Count(relation, filter=Q(**{f"{relation}__source": Source.APP}))


def same_recordist(observer_id: int | None, recordist: str) -> Q | None:
    """Observations by the same account or, for imports, the same recordist name (None: nobody to match)."""
    q = Q(observer_id=observer_id) if observer_id is not None else None
    if recordist:
        q = Q(recordist=recordist) if q is None else q | Q(recordist=recordist)
    return q


def linkage_candidates(obs: Observation):
    """The same recordist's other observations within the linkage window of ``obs`` (none without a recordist)."""
    q = same_recordist(obs.observer_id, obs.recordist)
    if q is None:
        return Observation.objects.none()
    return Observation.objects.filter(q, observed_at__range=linkage_window(obs.observed_at)).exclude(pk=obs.pk)


def obscure_in_place(obs: Observation) -> None:
    """Obscure a saved observation's public point (seeded by its id, so stable across re-imports)."""
    obs.public_location, obs.obscured = public_point(obs.location, True, f"linked:{obs.pk}")[0], True
    obs.save(update_fields=list(LINKED_FIELDS))


def apply_linkage(obs: Observation) -> int:
    """The linkage rule for a just saved observation; returns how many observations it obscured.

    A sensitive observation obscures the same recordist's observations within the window; an ordinary
    one is obscured itself when such a sensitive observation exists. Without it, a sensitive record's
    recordist and time would point at the same person's exact records made beside the bird."""
    candidates = linkage_candidates(obs)
    if obs.species.sensitive:
        linked = list(candidates.filter(obscured=False))
        for other in linked:
            obscure_in_place(other)
        return len(linked)
    if not obs.obscured and candidates.filter(species__sensitive=True).exists():
        obscure_in_place(obs)
        return 1
    return 0


def on_observation_saved(sender, instance: Observation, created: bool, update_fields=None, raw: bool = False,
                         **kwargs) -> None:
    """post_save receiver: apply the linkage rule on every save that may change its inputs."""
    if raw or (update_fields is not None and not LINKAGE_INPUTS & set(update_fields)):
        return
    apply_linkage(instance)


def public_uncertainty_m(obs: Observation) -> float | None:
    """The uncertainty to publish: at least the obscuring cell's half-diagonal when obscured."""
    if not obs.obscured:
        return obs.coordinate_uncertainty_m
    return max(obs.coordinate_uncertainty_m or 0.0, obscured_uncertainty_m(obs.public_location.y))



def set_species(obs: Observation, species, reviewed: bool = False) -> None:
    """A saved observation takes another species (a review label, or the community taxon of its
    identifications); ``reviewed`` also sets ``reviewed_at``.

    A sensitive species obscures the public point. An obscured point is never made exact again here
    (what was withheld stays withheld, also after a mistaken label); the linkage rule runs on save."""
    obs.species = species
    fields = ["species"]
    if reviewed:
        obs.reviewed_at = timezone.now()
        fields.append("reviewed_at")
    if species.sensitive and not obs.obscured:
        obs.public_location, obs.obscured = public_point(obs.location, True, f"relabel:{obs.pk}")[0], True
        fields += list(LINKED_FIELDS)
    obs.save(update_fields=fields)


def record_review(obs: Observation, species) -> None:
    """A reviewer labelled a saved observation: :func:`set_species` with ``reviewed_at`` set."""
    set_species(obs, species, reviewed=True)


def set_status(obs: Observation, status: str) -> bool:
    """Move an observation to another quality grade (community identification); True if it changed."""
    if status not in Status.values:
        raise ValueError(f"unknown status {status!r}")
    if obs.status == status:
        return False
    obs.status = status
    obs.save(update_fields=["status"])
    return True


def prior_records(limit: int = 50_000) -> list[dict]:
    """The accepted (research-grade) observations as the location/date prior reads them
    (``ml.runtime.prior.SpeciesPrior.from_records``): ``{"species", "lat", "lng", "date"}`` at their *public*
    position, so the prior never carries a sensitive species' true point into a verdict; newest first."""
    rows = (Observation.objects.filter(status=Status.RESEARCH).order_by("-observed_at")
            .values_list("species__label", "public_location", "observed_at")[:limit])
    return [{"species": label, "lat": point.y, "lng": point.x, "date": when.date().isoformat()}
            for label, point, when in rows if point is not None]


def first_observed_at() -> datetime | None:
    """When the earliest observation was made (None without observations)."""
    return Observation.objects.aggregate(first=Min("observed_at"))["first"]


@dataclass(frozen=True)
class RecordingClip:
    """A recording's public clip as others may play it."""
    recording_id: str
    data: bytes  # the public clip's Ogg/Opus bytes
    recordist: str  # the name the observation credits


def recording_public_clip(recording_id) -> RecordingClip | None:
    """The public clip of the observation made from ``recording_id``, or None where it has none (no
    observation, the licence withholds it, no clip written)."""
    obs = Observation.objects.filter(recording_id=recording_id).select_related("observer").first()
    data = public_clips.read_clip(obs) if obs is not None else None
    if data is None:
        return None
    observer = obs.observer
    recordist = obs.recordist or (observer.display_name or observer.username if observer else "")
    return RecordingClip(str(obs.recording_id), data, recordist)


def xeno_canto_ids(species_label: str, within: Polygon | None = None) -> list[str]:
    """The xeno-canto ids of the species' imported observations, those whose public position lies
    ``within`` the area first, each group in id order."""
    mine = Observation.objects.filter(species__label=species_label, source=Source.XENO_CANTO).order_by("id")
    first = [] if within is None else list(mine.filter(public_location__within=within)
                                           .values_list("source_id", flat=True))
    return [*first, *mine.values_list("source_id", flat=True)]


def remove_recorded(recording_id) -> int | None:
    """Delete the observation made from ``recording_id`` (its recordist withdrew the recording) and
    return its id, or None when there is none. Its public clip's file goes once the transaction
    commits; the map follows through its post_delete receiver; identifications, quality votes and
    quest contributions of it go with it (their foreign keys cascade), point events stay (SET_NULL)."""
    obs = Observation.objects.select_for_update().filter(recording_id=recording_id).first()
    if obs is None:
        return None
    public_clips.detach(obs)
    pk = obs.pk
    obs.delete()
    return pk


def training_observations(*, research: bool, reviewed: bool, kind: str | None = None):
    """Observations whose recordings may train a model, oldest id first, with species and recording joined:
    research grade by the community (``research``) and/or labelled by a reviewer and not casual
    (``reviewed``); only named classes (no higher taxon, unknown animal or soundscape); ``kind`` keeps one
    kind (bird, urban)."""
    wanted = Q(pk__in=[])
    if research:
        wanted |= Q(status=Status.RESEARCH, reviewed_at__isnull=True)
    if reviewed:
        wanted |= Q(reviewed_at__isnull=False) & ~Q(status=Status.CASUAL)
    qs = Observation.objects.filter(wanted, recording__isnull=False, species__in=named_classes())
    if kind is not None:
        qs = qs.filter(species__kind=kind)
    return qs.select_related("species", "recording").order_by("id")
