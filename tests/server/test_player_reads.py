"""The reads the game makes of observations through ``server.observations.player_reads``."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction

from server.observations import player_reads
from server.observations.services import build_observation
from server.species.models import Species

from .game.helpers import accept, midday

pytestmark = pytest.mark.django_db


def unrecorded(player, label: str, when):
    obs = build_observation(species=Species.objects.get(label=label), location=Point(-65.0, 18.0, srid=4326),
                            seed="t", observer=player, observed_at=when)
    obs.save()
    return obs


def test_before_finds_the_observers_previous_recorded_observation_and_counts_the_species(
        catalogue, player, other_player, bird_clips):
    clip, t0 = bird_clips[0], midday() - timedelta(days=1)
    first = accept(player, clip, when=t0, lat=18.31, lng=-65.71, accuracy_m=12.0, signal=False)
    alone = player_reads.before(first, count_up_to=5)
    assert alone == player_reads.PriorObservations(previous=None, earlier_of_species=0)

    unrecorded(player, clip.label, t0 + timedelta(minutes=1))               # no recording: never "previous"
    accept(other_player, clip, when=t0 + timedelta(minutes=2), signal=False)  # someone else's
    later = accept(player, clip, when=t0 + timedelta(hours=2), signal=False)   # after the one awarded
    now = accept(player, clip, when=t0 + timedelta(hours=1), lat=18.32, signal=False)

    prior = player_reads.before(now, count_up_to=10)
    assert prior.previous == player_reads.PreviousObservation(first.pk, 18.31, -65.71, t0, 12.0)
    assert prior.earlier_of_species == 4   # every other observation of the species, whoever made it, whenever
    assert player_reads.before(now, count_up_to=2).earlier_of_species == 2
    assert player_reads.before(later, count_up_to=5).previous.id == now.pk


def test_reads_by_id(catalogue, player, bird_clips):
    obs = accept(player, bird_clips[0], signal=False)
    assert player_reads.observation(obs.pk, with_species=True).species.label == bird_clips[0].label
    assert player_reads.observation(10 ** 9) is None
    assert player_reads.recorded(obs.pk).recording_id == obs.recording_id
    assert player_reads.recorded(unrecorded(player, bird_clips[0].label, obs.observed_at).pk) is None
    assert player_reads.species_label(obs.pk) == bird_clips[0].label and player_reads.species_label(10 ** 9) is None
    assert player_reads.statuses([obs.pk, 10 ** 9]) == {obs.pk: "needs_id"}
    with pytest.raises(obs.DoesNotExist):
        player_reads.require_observation(10 ** 9)
    with transaction.atomic():
        assert player_reads.locked(obs.pk) == obs and player_reads.locked(10 ** 9) is None
