"""Quiz: which species is singing? Questions from stored recordings, species near the player first.

The correct species never leaves the server before the answer; the audio URL names only the
question. A session never repeats an observation, and each question is answered once.
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from rest_framework import status

from server.common.errors import ApiError
from server.observations import player_reads
from server.recordings.services import last_recorded_position
from server.species.lookup import named_classes

from ..ledger import AwardBatch, award
from ..models import QuizQuestion, QuizSession

if TYPE_CHECKING:
    from server.observations.models import Observation

NEAR_M = 30_000
CHOICES = 4


def pick_observation(player, exclude_ids: set[int], rng: random.Random) -> Observation | None:
    """A recording of a species observed near the player if possible, else anywhere. "Near" is tested
    against public positions (obscured for sensitive species): which question comes is an oracle."""
    where = last_recorded_position(player)
    pools = []
    if where is not None:
        pools.append(player_reads.quiz_candidates(player, exclude_ids, near=where, metres=NEAR_M))
    pools.append(player_reads.quiz_candidates(player, exclude_ids))
    for pool in pools:
        ids = list(pool.values_list("pk", flat=True)[:500])
        if ids:
            return player_reads.require_observation(rng.choice(ids), with_species=True)
    return None


def distractors(obs: Observation, rng: random.Random) -> list[str]:
    """Three other species, preferring those also recorded (so also plausible around)."""
    recorded = player_reads.most_recorded_labels(obs.species, 12)
    rng.shuffle(recorded)
    picked = recorded[:CHOICES - 1]
    if len(picked) < CHOICES - 1:
        rest = list(named_classes().filter(kind=obs.species.kind).exclude(pk=obs.species_id)
                    .exclude(label__in=picked).values_list("label", flat=True))
        rng.shuffle(rest)
        picked += rest[:CHOICES - 1 - len(picked)]
    return picked


def next_question(session: QuizSession, rng: random.Random | None = None) -> QuizQuestion | None:
    rng = rng or random.Random()
    used = set(session.questions.values_list("observation_id", flat=True))
    obs = pick_observation(session.player, used, rng)
    if obs is None:
        return None
    choices = distractors(obs, rng) + [obs.species.label]
    if len(choices) < CHOICES:
        return None
    rng.shuffle(choices)
    return QuizQuestion.objects.create(session=session, observation=obs, choices=choices,
                                       correct_choice=obs.species.label)


def start(player) -> tuple[QuizSession, QuizQuestion]:
    with transaction.atomic():
        session = QuizSession.objects.create(player=player)
        question = next_question(session)
        if question is None:
            raise ApiError("quiz_unavailable", "There are not enough recordings for a quiz yet.",
                           status.HTTP_409_CONFLICT)
    return session, question


def answer(player, session_id: str, question_id: str, choice: str, batch: AwardBatch) -> dict:
    """Check an answer once (row lock); returns {correct, correct_choice, points, next_question}."""
    session = QuizSession.objects.filter(pk=session_id, player=player).first()
    if session is None:
        raise ApiError("not_found", "No such quiz session.", status.HTTP_404_NOT_FOUND)
    question = QuizQuestion.objects.select_for_update().filter(pk=question_id, session=session).first()
    if question is None:
        raise ApiError("not_found", "No such question in this session.", status.HTTP_404_NOT_FOUND)
    if question.answered_at is not None:
        raise ApiError("already_answered", "This question was answered already.", status.HTTP_409_CONFLICT)
    if choice not in question.choices:
        raise ApiError("invalid_choice", "Pick one of the question's four choices.", fields={"choice": "not offered"})
    question.answer, question.answered_at = choice, timezone.now()
    question.save(update_fields=["answer", "answered_at"])
    correct = choice == question.correct_choice
    points = 0
    if correct:
        event = award(player.pk, "quiz_answer", f"quiz:{question.pk}", batch=batch)
        points = event.amount if event else 0
    return {"correct": correct, "correct_choice": question.correct_choice, "points": points,
            "next_question": next_question(session)}
