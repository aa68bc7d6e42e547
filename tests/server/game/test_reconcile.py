"""Reconciliation of awards (``server/game/reconcile.py``): an accepted observation whose analysis event never
reached the game (its worker was killed after the analysis committed, or the subscriber failed) gets its
points from the beat task, exactly once, and nothing else does."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta

import numpy as np
import pytest
import soundfile as sf
from django.conf import settings as dj_settings
from django.db import connection

from server.game import leaderboards, reconcile
from server.game.consequences import on_recording_analysed
from server.game.ledger import total_xp
from server.game.models import PlayerBadge, PointEvent, QuestProgress
from server.game.reconcile import reconcile_awards
from server.game.tasks import reconcile_awards as reconcile_task
from server.platform import redis as platform_redis
from server.recordings.models import Recording, Status
from server.recordings.tasks import analyse_recording

from ..conftest import client_for, metadata, submit
from .helpers import accept, analysed_event, midday
from ..test_workers import ROOT, database_url
from .test_consequences import make_quest

pytestmark = pytest.mark.django_db


def submitted(client, data: bytes, label: str | None = None) -> Recording:
    extra = {} if label is None else {"identification": {"label": label, "confidence": 0.7, "model_version": "phone"}}
    response = submit(client, data, metadata(**extra))
    assert response.status_code == 201, response.content
    return Recording.objects.get(pk=response.json()["id"])


def analysed_by_a_killed_worker(rec: Recording, capture) -> Recording:
    """Analyse ``rec``; its transaction commits, the after-commit event is never sent (the worker died)."""
    with capture(execute=False):
        analyse_recording(str(rec.pk))
    rec.refresh_from_db()
    return rec


def after_grace(rec: Recording) -> datetime:
    return rec.analysed_at + reconcile.GRACE + timedelta(seconds=1)


def ledger() -> list[tuple[int, str, str, int]]:
    return sorted(PointEvent.objects.values_list("player_id", "rule", "cause", "amount"))


def test_an_observation_whose_event_was_lost_gets_its_points_once(api, player, game, bird_clips,
                                                                  django_capture_on_commit_callbacks):
    clip = bird_clips[0]
    rec = analysed_by_a_killed_worker(submitted(api, clip.data, clip.label), django_capture_on_commit_callbacks)
    assert rec.status == Status.ACCEPTED and not PointEvent.objects.exists()
    obs = rec.observation

    # within the grace period the live subscriber may still be at work: left to it
    assert reconcile_awards(now=rec.analysed_at + reconcile.GRACE - timedelta(seconds=1)) == []
    assert not PointEvent.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):   # boards and pushes follow the award's commit
        assert reconcile_awards(now=after_grace(rec)) == [obs.pk]
    rules = {rule for _, rule, _, _ in ledger()}
    assert {"recording_accepted", "new_species", "new_cell"} <= rules
    assert PointEvent.objects.get(rule="recording_accepted").cause == f"obs:{obs.pk}"
    awarded = ledger()
    assert leaderboards.scores("alltime") == {player.pk: total_xp(player.pk)}
    assert PlayerBadge.objects.filter(player=player, badge__slug="first-recording").exists()

    # a second run (and the beat task itself) finds nothing more to do
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_awards(now=after_grace(rec)) == []
        assert reconcile_task.apply().get() == 0
    assert ledger() == awarded and leaderboards.scores("alltime") == {player.pk: total_xp(player.pk)}


def test_the_same_award_as_the_live_subscriber_would_give(api, player, other_player, game, bird_clips,
                                                          django_capture_on_commit_callbacks):
    live = submitted(api, bird_clips[0].data, bird_clips[0].label)
    with django_capture_on_commit_callbacks(execute=True):
        analyse_recording(str(live.pk))
    lost = analysed_by_a_killed_worker(submitted(client_for(other_player), bird_clips[1].data, bird_clips[1].label),
                                       django_capture_on_commit_callbacks)
    # the live path's observation was awarded already: reconciliation leaves it alone
    assert reconcile_awards(now=after_grace(lost)) == [lost.observation.pk]

    def earned(player_) -> list[tuple[str, int]]:
        return sorted((rule, amount) for who, rule, _, amount in ledger() if who == player_.pk)

    assert earned(other_player) == earned(player) != []


def test_a_replay_earns_nothing(api, other_player, game, bird_clips, django_capture_on_commit_callbacks):
    first = submitted(api, bird_clips[0].data, bird_clips[0].label)
    again = submitted(client_for(other_player), bird_clips[1].data, bird_clips[1].label)
    # the second upload's bytes were seen before (set here: the fingerprint would reject a real copy)
    Recording.objects.filter(pk=again.pk).update(audio_sha256=first.audio_sha256)
    first = analysed_by_a_killed_worker(first, django_capture_on_commit_callbacks)
    again = analysed_by_a_killed_worker(again, django_capture_on_commit_callbacks)
    assert again.status == Status.ACCEPTED and again.observation is not None
    assert reconcile_awards(now=after_grace(again)) == [first.observation.pk]
    assert not PointEvent.objects.filter(player=other_player).exists()
    assert reconcile_awards(now=after_grace(again)) == []   # and it is not retried


def test_a_rejected_recording_earns_nothing(api, game, django_capture_on_commit_callbacks):
    buf = io.BytesIO()
    sf.write(buf, np.zeros(16000 * 4), 16000, format="WAV", subtype="PCM_16")   # silence
    rec = analysed_by_a_killed_worker(submitted(api, buf.getvalue()), django_capture_on_commit_callbacks)
    assert rec.status == Status.REJECTED
    assert reconcile_awards(now=after_grace(rec)) == []
    assert not PointEvent.objects.exists()


def test_only_the_window_is_reconciled(player, game, bird_clips):
    now = midday() + timedelta(hours=1)
    too_old, in_window, too_fresh = (accept(player, bird_clips[0], lat=18.30 + i / 1000, when=midday(), signal=False)
                                     for i in range(3))
    for obs, analysed_at in ((too_old, now - reconcile.WINDOW - timedelta(minutes=1)),
                             (in_window, now - reconcile.WINDOW + timedelta(minutes=1)),
                             (too_fresh, now - reconcile.GRACE + timedelta(seconds=1))):
        Recording.objects.filter(pk=obs.recording_id).update(analysed_at=analysed_at)
    assert reconcile_awards(now=now) == [in_window.pk]
    assert set(PointEvent.objects.filter(rule="recording_accepted").values_list("cause", flat=True)) == {
        f"obs:{in_window.pk}"}


def test_impossible_travel_stays_withheld(player, game, bird_clips):
    near = accept(player, bird_clips[0], when=midday() - timedelta(minutes=10))   # awarded live
    far = accept(player, bird_clips[0], lat=40.0, lng=-3.7, when=midday(), signal=False)
    assert reconcile_awards(now=far.recording.analysed_at + reconcile.GRACE + timedelta(seconds=1)) == [far.pk]
    assert not PointEvent.objects.filter(cause=f"obs:{far.pk}").exists()   # flagged, points withheld ...
    assert reconcile_awards(now=far.recording.analysed_at + reconcile.GRACE + timedelta(seconds=2)) == []  # ... once
    assert PointEvent.objects.filter(cause=f"obs:{near.pk}").count() == 1


@pytest.mark.django_db(transaction=True)
def test_reconciliation_racing_the_live_subscriber_awards_once(player, game, bird_clips):
    quest = make_quest(target=3)
    observations = [accept(player, bird_clips[0], lat=18.30 + i / 1000, when=midday() - timedelta(minutes=i),
                           signal=False) for i in range(4)]
    now = max(o.recording.analysed_at for o in observations) + reconcile.GRACE + timedelta(seconds=1)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(job) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def subscriber() -> None:
        for obs in observations:
            on_recording_analysed(None, event=analysed_event(obs))

    threads = [threading.Thread(target=run, args=(job,))
               for job in (subscriber, lambda: reconcile_awards(now=now))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    causes = list(PointEvent.objects.filter(rule="recording_accepted").values_list("cause", flat=True))
    assert sorted(causes) == sorted(f"obs:{o.pk}" for o in observations)
    assert PointEvent.objects.filter(rule="quest_step").count() == 3      # target 3: the fourth counts for nothing
    assert PointEvent.objects.filter(rule="quest_complete").count() == 1
    assert QuestProgress.objects.get(quest=quest, player=player).count == 3
    assert leaderboards.scores("alltime") == {player.pk: total_xp(player.pk)}   # no board counted twice
    assert {b: leaderboards.scores(b) for b in leaderboards.expected_scores()} == leaderboards.expected_scores()
    assert reconcile_awards(now=now) == []


def test_beat_runs_the_reconciliation_well_inside_its_window(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["game-reconcile-awards"]
    assert entry["task"] == reconcile_task.name == "game.reconcile_awards"
    assert reconcile.GRACE.total_seconds() < entry["schedule"] < reconcile.WINDOW.total_seconds() / 10


# A worker process that analyses one recording and is killed with SIGKILL right after the analysis commits,
# when the event is about to be sent.
KILLED_AFTER_COMMIT = """
import os, signal, sys
import django
django.setup()
from server.recordings import events
events.dispatch = lambda event: os.kill(os.getpid(), signal.SIGKILL)
from server.recordings.tasks import analyse_recording
analyse_recording(sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_with_sigkill_after_the_commit_loses_no_points(player, game, bird_clips, media_root):
    clip = bird_clips[0]
    rec = submitted(client_for(player), clip.data, clip.label)
    broker = platform_redis.client(dj_settings.CELERY_BROKER_URL)
    broker.delete(dj_settings.CELERY_TASK_DEFAULT_QUEUE)   # analysed below by the doomed process instead
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "server.settings", "DATABASE_URL": database_url(),
           "MEDIA_ROOT": str(media_root), "REDIS_URL": dj_settings.REDIS_URL,
           "CELERY_BROKER_URL": dj_settings.CELERY_BROKER_URL, "DAWN_CELERY_QUEUE": dj_settings.CELERY_TASK_DEFAULT_QUEUE}
    worker = subprocess.run([sys.executable, "-c", KILLED_AFTER_COMMIT, str(rec.pk)], cwd=ROOT, env=env,
                            capture_output=True, timeout=120)
    assert worker.returncode == -signal.SIGKILL, worker.stderr.decode()[-3000:]
    rec.refresh_from_db()
    assert rec.status == Status.ACCEPTED and not PointEvent.objects.exists()   # committed, never awarded
    assert reconcile_awards(now=after_grace(rec)) == [rec.observation.pk]
    assert PointEvent.objects.filter(rule="recording_accepted").get().cause == f"obs:{rec.observation.pk}"
    assert leaderboards.scores("alltime") == {player.pk: total_xp(player.pk)}
