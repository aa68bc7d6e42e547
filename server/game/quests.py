"""Quests: progress from accepted observations; team quests sum the members' contributions."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection
from rest_framework import status

from server.common.errors import ApiError

from . import badges, push
from .ledger import Award, AwardBatch, team_of
from .models import Quest, QuestMode, QuestProgress
from .rows import from_row
from .teams import member_ids

if TYPE_CHECKING:
    from server.observations.models import Observation


def check_eligible(quest: Quest, obs: Observation, player_id: int, matched: bool = False) -> None:
    """Why this observation cannot count towards the quest, as an ApiError (nothing if it can).
    ``matched``: window, species and area were already checked (by context.load)."""
    if obs.observer_id != player_id:
        raise ApiError("not_your_observation", "Only your own observations count.", status.HTTP_403_FORBIDDEN)
    if matched:
        return
    if not quest.active:
        raise ApiError("quest_inactive", "This quest is not active.", status.HTTP_409_CONFLICT)
    if obs.observed_at > quest.ends_at:
        raise ApiError("quest_expired", "The quest ended before this observation.", status.HTTP_409_CONFLICT)
    if obs.observed_at < quest.starts_at:
        raise ApiError("quest_not_started", "The observation predates the quest.", status.HTTP_409_CONFLICT)
    if quest.species.exists() and not quest.species.filter(pk=obs.species_id).exists():
        raise ApiError("quest_species_mismatch", "This species is not a target of the quest.")
    if quest.area is not None and not quest.area.contains(obs.location):
        raise ApiError("quest_outside_area", "The observation lies outside the quest's area.")


_COUNT_ONCE = """
WITH progress AS (
  INSERT INTO game_questprogress (quest_id, player_id, team_id, count, completed_at)
  VALUES (%(quest)s, %(player)s, %(team)s, 0, NULL)
  ON CONFLICT {target} DO UPDATE SET count = game_questprogress.count
  RETURNING id, quest_id, player_id, team_id, count, completed_at),
counted AS (
  INSERT INTO game_questcontribution (quest_id, observation_id, player_id, progress_id, created_at)
  SELECT %(quest)s, %(obs)s, %(observer)s, progress.id, now() FROM progress WHERE progress.completed_at IS NULL
  ON CONFLICT (quest_id, observation_id) DO NOTHING RETURNING id)
SELECT progress.*, EXISTS (SELECT 1 FROM counted) FROM progress
"""
# the partial unique indexes of QuestProgress (one row per solo player, one per team)
_SOLO = _COUNT_ONCE.format(target="(quest_id, player_id) WHERE team_id IS NULL")
_TEAM = _COUNT_ONCE.format(target="(quest_id, team_id) WHERE team_id IS NOT NULL")
_PROGRESS_FIELDS = ("id", "quest_id", "player_id", "team_id", "count", "completed_at")


def _count_once(quest: Quest, obs: Observation, batch: AwardBatch) -> tuple[QuestProgress, bool]:
    """The player's (solo) or team's (team quest) progress row, created if missing and locked, and
    whether ``obs`` was newly counted (not before, quest not complete): one statement."""
    player_id = obs.observer_id
    params = {"quest": quest.pk, "obs": obs.pk, "observer": player_id, "player": player_id, "team": None}
    if quest.mode == QuestMode.TEAM:
        team_id = batch.team(player_id)
        if team_id is None:
            raise ApiError("team_required", "Join a team to take part in a team quest.", status.HTTP_409_CONFLICT)
        params.update(player=None, team=team_id)
    with connection.cursor() as cur:
        cur.execute(_TEAM if params["team"] else _SOLO, params)
        *row, counted = cur.fetchone()
    return from_row(QuestProgress, dict(zip(_PROGRESS_FIELDS, row))), counted


def contribute(quest: Quest, obs: Observation, batch: AwardBatch, matched: bool = False) -> QuestProgress | None:
    """Count ``obs`` once towards ``quest``; completes the quest at its target. None if counted before
    or the quest is already complete. The quest's points wait in ``batch.pending`` (one INSERT with
    the observation's own, or at settle)."""
    check_eligible(quest, obs, obs.observer_id, matched)
    progress, counted = _count_once(quest, obs, batch)
    if not counted:
        return None
    progress.count += 1
    batch.pending.append(Award(obs.observer_id, "quest_step", f"quest:{quest.pk}:obs:{obs.pk}", quest.step_points,
                               observation_id=obs.pk, tags=(f"quest:{quest.slug}",),
                               team_id=batch.team(obs.observer_id)))
    if progress.count >= quest.target_count:
        progress.completed_at = obs.created_at or obs.observed_at
        _reward(quest, progress, batch)
    progress.save(update_fields=["count", "completed_at"])
    _push_progress(quest, progress, batch)
    return progress


def _reward(quest: Quest, progress: QuestProgress, batch: AwardBatch) -> None:
    players = member_ids(progress.team_id) if progress.team_id else [progress.player_id]
    for player_id in players:
        batch.pending.append(Award(player_id, "quest_complete", f"quest:{quest.pk}", quest.reward_points,
                                   tags=(f"quest:{quest.slug}",), team_id=batch.team(player_id)))
        if quest.reward_badge_id and badges.grant(player_id, quest.reward_badge):
            push.to_player(batch, player_id, {"type": "badge.earned", "badge": {
                "slug": quest.reward_badge.slug, "name": quest.reward_badge.name,
                "description": quest.reward_badge.description}})


def _push_progress(quest: Quest, progress: QuestProgress, batch: AwardBatch) -> None:
    message = {"type": "quest.progress", "quest": {"id": quest.pk, "slug": quest.slug, "title": quest.title},
               "count": progress.count, "target": quest.target_count, "team": progress.team_id,
               "completed": progress.completed_at is not None}
    players = member_ids(progress.team_id) if progress.team_id else [progress.player_id]
    for player_id in players:
        push.to_player(batch, player_id, message)


def on_observation(obs: Observation, quests: list[Quest], batch: AwardBatch) -> None:
    """Progress every quest the observation matches (``quests``, from context.load); quests it cannot
    count for are skipped."""
    for quest in quests:
        try:
            contribute(quest, obs, batch, matched=True)
        except ApiError:
            continue  # raised before any write (e.g. a team quest for a player without a team)


def progress_for(player_id: int, quest: Quest) -> QuestProgress | None:
    if quest.mode == QuestMode.TEAM:
        team_id = team_of(player_id)
        return QuestProgress.objects.filter(quest=quest, team_id=team_id).first() if team_id else None
    return QuestProgress.objects.filter(quest=quest, player_id=player_id, team=None).first()
