"""Quests: progress from accepted observations; team quests sum the members' contributions."""
from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from rest_framework import status

from server.common.errors import ApiError
from server.observations.models import Observation

from . import badges, push
from .ledger import AwardBatch, award
from .models import Quest, QuestContribution, QuestMode, QuestProgress, TeamMembership
from .teams import member_ids


def matching_quests(obs: Observation):
    """Active quests whose window, species and area hold this observation (one query)."""
    qs = Quest.objects.filter(active=True, starts_at__lte=obs.observed_at, ends_at__gte=obs.observed_at)
    qs = qs.filter(Q(area__isnull=True) | Q(area__contains=obs.location))
    qs = qs.filter(Q(species__isnull=True) | Q(species=obs.species_id)).distinct()
    return qs


def check_eligible(quest: Quest, obs: Observation, player_id: int, matched: bool = False) -> None:
    """Why this observation cannot count towards the quest, as an ApiError (nothing if it can).
    ``matched``: window, species and area were already checked by :func:`matching_quests`."""
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


def _progress_row(quest: Quest, player_id: int) -> QuestProgress:
    """The locked progress row of the player (solo) or of the player's team (team quest)."""
    if quest.mode == QuestMode.TEAM:
        team_id = TeamMembership.objects.filter(player_id=player_id).values_list("team_id", flat=True).first()
        if team_id is None:
            raise ApiError("team_required", "Join a team to take part in a team quest.", status.HTTP_409_CONFLICT)
        lookup = {"quest": quest, "team_id": team_id}
    else:
        lookup = {"quest": quest, "player_id": player_id, "team": None}
    progress = QuestProgress.objects.select_for_update().filter(**lookup).first()
    if progress is not None:
        return progress
    try:
        with transaction.atomic():
            QuestProgress.objects.create(**lookup)
    except IntegrityError:
        pass  # created concurrently
    return QuestProgress.objects.select_for_update().get(**lookup)


def _record_contribution(quest: Quest, obs: Observation, progress: QuestProgress) -> bool:
    """Insert the (quest, observation) contribution once; False if it was counted before."""
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {QuestContribution._meta.db_table} (quest_id, observation_id, player_id, progress_id, "
                    "created_at) VALUES (%s, %s, %s, %s, now()) ON CONFLICT (quest_id, observation_id) DO NOTHING "
                    "RETURNING id", [quest.pk, obs.pk, obs.observer_id, progress.pk])
        return cur.fetchone() is not None


def contribute(quest: Quest, obs: Observation, batch: AwardBatch, matched: bool = False) -> QuestProgress | None:
    """Count ``obs`` once towards ``quest``; completes the quest at its target. None if counted before
    or the quest is already complete."""
    check_eligible(quest, obs, obs.observer_id, matched)
    progress = _progress_row(quest, obs.observer_id)
    if progress.completed_at is not None or not _record_contribution(quest, obs, progress):
        return None
    progress.count += 1
    award(obs.observer_id, "quest_step", f"quest:{quest.pk}:obs:{obs.pk}", quest.step_points, batch=batch,
          observation_id=obs.pk, tags=[f"quest:{quest.slug}"])
    if progress.count >= quest.target_count:
        progress.completed_at = obs.created_at or obs.observed_at
        _reward(quest, progress, batch)
    progress.save(update_fields=["count", "completed_at"])
    _push_progress(quest, progress)
    return progress


def _reward(quest: Quest, progress: QuestProgress, batch: AwardBatch) -> None:
    players = member_ids(progress.team_id) if progress.team_id else [progress.player_id]
    for player_id in players:
        award(player_id, "quest_complete", f"quest:{quest.pk}", quest.reward_points, batch=batch,
              tags=[f"quest:{quest.slug}"])
        if quest.reward_badge_id and badges.grant(player_id, quest.reward_badge):
            push.to_player(player_id, {"type": "badge.earned", "badge": {
                "slug": quest.reward_badge.slug, "name": quest.reward_badge.name,
                "description": quest.reward_badge.description}})


def _push_progress(quest: Quest, progress: QuestProgress) -> None:
    message = {"type": "quest.progress", "quest": {"id": quest.pk, "slug": quest.slug, "title": quest.title},
               "count": progress.count, "target": quest.target_count, "team": progress.team_id,
               "completed": progress.completed_at is not None}
    players = member_ids(progress.team_id) if progress.team_id else [progress.player_id]
    for player_id in players:
        push.to_player(player_id, message)


def on_observation(obs: Observation, batch: AwardBatch) -> None:
    """Progress every quest the observation matches; quests it cannot count for are skipped."""
    for quest in matching_quests(obs):
        try:
            contribute(quest, obs, batch, matched=True)
        except ApiError:
            continue  # raised before any write (e.g. a team quest for a player without a team)


def progress_for(player_id: int, quest: Quest) -> QuestProgress | None:
    if quest.mode == QuestMode.TEAM:
        team_id = TeamMembership.objects.filter(player_id=player_id).values_list("team_id", flat=True).first()
        return QuestProgress.objects.filter(quest=quest, team_id=team_id).first() if team_id else None
    return QuestProgress.objects.filter(quest=quest, player_id=player_id, team=None).first()
