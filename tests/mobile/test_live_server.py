"""The field client against the real server (uvicorn + a Celery worker started here), not a fake:
model download from the registry (hash-checked), the game (profile, leaderboard, one quiz answer
checked by the server), and federated learning - a plain round (opt in, task, train on the phone's
accepted takes, accepted update) and a secure-aggregation round with three phones."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import numpy as np
import pytest

from mobile.api import ApiClient, Connectivity
from mobile.controller import FieldClient
from mobile.fl import FLClient, FLUnavailable
from mobile.game import GameClient, QuizController, board_rows
from mobile.modelstore import ModelStore
from mobile.offline_queue import ACCEPTED, OfflineQueue
from mobile.recorder import RecordController
from mobile.services.microphone import FileMicrophone
from ml.runtime.classifier import DEFAULT_MODEL_PATH
from server.federated.models import ClientUpdate, Round
from server.federated.services import open_round
from server.modelregistry.services import register_model_file
from tests.server.conftest import catalogue, media_root  # noqa: F401 - fixtures
from tests.server.test_workers import proc_env, wait_for  # noqa: F401

from .conftest import AUDIO, make_services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
TAKES = [("XC173620_adelaides_warbler.ogg", "Adelaide's Warbler"), ("XC32051_bananaquit.ogg", "Bananaquit")]


def record_and_upload(client: FieldClient, clip: str, label: str) -> str:
    client.recorder = RecordController(FileMicrophone(AUDIO / clip))
    client.start_recording()
    client.stop_recording()
    client.mark.select(0.2, 5.8)
    client.identify()
    item = client.save(label)
    assert client.sync().sent == [item.key]
    return item.key


def test_model_game_and_a_federated_round_against_the_live_server(live_server_url, catalogue, tmp_path,  # noqa: F811
                                                                  proc_env):  # noqa: F811
    from server.game.leaderboards import NAMES, client, rebuild

    client().delete(NAMES)  # boards and names live in Redis: forget an earlier test's players (same ids)
    rebuild()
    mv = register_model_file(DEFAULT_MODEL_PATH, "field", source="shipped", make_current=True)
    phone = FieldClient(tmp_path / "phone", live_server_url, make_services(), Connectivity(online=True))
    try:
        phone.register("live_wren", "a-long-enough-passphrase-7")
        # model: the registry's current version, downloaded and checked against its sha256
        lines = phone.choose_region(phone.regions[0])
        assert any("checksum verified" in line for line in lines), lines
        installed = phone.models.installed
        assert installed["sha256"] == mv.sha256 and installed["version"] == mv.version
        assert hashlib.sha256(phone.models.model_path().read_bytes()).hexdigest() == mv.sha256
        assert phone.classifier.version == mv.version

        keys = [record_and_upload(phone, clip, label) for clip, label in TAKES]

        def accepted():
            phone.sync()
            return all(phone.queue.get(k).state == ACCEPTED for k in keys)

        wait_for(accepted, 120, "both takes accepted", proc_env)

        # game: profile and leaderboard of this player, as the server computes them
        game = GameClient(phone.api)
        profile = game.profile()
        assert profile["xp"] > 0 and profile["level"] >= 1 and profile["name"] == "live_wren"
        board = game.leaderboard("alltime")
        assert board["me"]["rank"] == 1 and board["me"]["score"] > 0 and board["size"] == 1
        assert board_rows(board)[0].startswith("1. live_wren") and "(you)" in board_rows(board)[0]

        # quiz: another player hears this player's recording; the server checks the answer
        quizzer = FieldClient(tmp_path / "quizzer", live_server_url, make_services(), Connectivity(online=True))
        try:
            quizzer.register("live_quizzer", "a-long-enough-passphrase-8")
            quiz = QuizController(GameClient(quizzer.api))
            st = quiz.start()
            assert len(st.choices) == 4 and len(set(st.choices)) == 4
            audio = quiz.game.quiz_audio(st.question["audio_url"])
            assert len(audio) > 1000
            by_audio = {hashlib.sha256(phone.queue.audio(phone.queue.get(k))).hexdigest(): phone.queue.get(k).label
                        for k in keys}
            right = by_audio.get(hashlib.sha256(audio).hexdigest())
            if right is None:  # the server re-encoded it: the phone identifies the question's audio itself
                from ml.runtime.audio import decode

                samples, sr = decode(audio)
                right = phone.classifier.classify(samples, sr, allowed={lab for _c, lab in TAKES},
                                                  unknown_threshold=0.0).label
            assert right in st.choices
            st = quiz.answer(right)
            assert st.correct == 1 and st.points > 0 and st.history[0]["correct"] is True
        finally:
            quizzer.close()

        # federated learning: opt in, the server samples this phone, it trains and sends its update
        fl = FLClient(phone.api, phone.queue, lambda: phone.classifier, tmp_path / "fl.json",
                      model_for=lambda info: phone.models.classifier_for(phone.api, info))
        assert "Thank you" in fl.set_opt_in(True) and fl.prefs.enrolled_on_server
        rnd = open_round(clients_per_round=1, quorum=1, min_recordings=2, clip_norm=1.0,
                         local_epochs=2, duration=timedelta(minutes=30))
        assert rnd.assignments.count() == 1
        outcome = fl.contribute(np.random.default_rng(1))
        assert outcome.status == "sent" and outcome.answer["accepted"] is True and outcome.round == rnd.pk
        update = ClientUpdate.objects.get(round=rnd)
        assert update.user.username == "live_wren" and update.n_examples >= 4 and 0 < update.norm <= 1.02
        assert "Last contributed" in fl.last_contributed_text()
        with pytest.raises(FLUnavailable) as again:  # answered: nothing more to do in this round
            fl.contribute()
        assert again.value.code == "no_task"
    finally:
        phone.close()


def accepted_queue(path, seed: int) -> OfflineQueue:
    """A phone's queue holding two accepted takes (the server's acceptance is not what this test is about)."""
    q = OfflineQueue(path)
    for i, (name, label) in enumerate(TAKES):
        key = f"dc-sa-{seed}-{i}"
        q.add(key, (AUDIO / name).read_bytes(), {"identification": {"label": label},
                                                 "segment": {"start_s": 0.0, "end_s": 6.0}}, "ogg")
        q.claim(key)
        q.mark_sent(key, f"r{seed}{i}")
        q.apply_server_status(f"r{seed}{i}", "accepted")
    return q


def test_three_phones_run_a_secure_aggregation_round(live_server_url, catalogue, tmp_path, proc_env):  # noqa: F811
    from ml.runtime.classifier import load_classifier

    register_model_file(DEFAULT_MODEL_PATH, "field", source="shipped", make_current=True)
    clf = load_classifier(DEFAULT_MODEL_PATH)
    phones = []
    for i in range(3):
        api = ApiClient(live_server_url)
        api.register(f"sa_phone{i}", "a-long-enough-passphrase-9")
        fl = FLClient(api, accepted_queue(tmp_path / f"q{i}", i), lambda: clf, tmp_path / f"fl{i}.json")
        assert "Thank you" in fl.set_opt_in(True)
        phones.append(fl)
    rnd = open_round(clients_per_round=3, quorum=3, min_recordings=0, clip_norm=1.0, local_epochs=1,
                     duration=timedelta(minutes=30), secure_aggregation={"threshold": 2, "bits": 8})
    rng = np.random.default_rng(3)
    steps: list[list[str]] = []
    for _phase in range(4):  # keys → shares → masked input → reveal, every phone once per phase
        steps.append([fl.contribute(rng).status for fl in phones])
    assert steps == [["step"] * 3, ["step"] * 3, ["sent"] * 3, ["revealed"] * 3], steps
    assert ClientUpdate.objects.filter(round=rnd, masked=True).count() == 3
    assert all(u.norm is None for u in ClientUpdate.objects.filter(round=rnd))  # the server cannot see norms
    rnd.refresh_from_db()
    assert rnd.secagg_phase == "unmask" and rnd.status in ("open", "aggregating", "done")
    assert all(a.revealed is not None for a in rnd.assignments.all())  # every survivor revealed: aggregation queued
