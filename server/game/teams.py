"""Teams: create, join (size limit), leave. A player is in at most one team."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from rest_framework import status

from server.common.errors import ApiError

from .models import Team, TeamMembership

MIN_SIZE, MAX_SIZE, DEFAULT_SIZE = 2, 20, 8


def _not_in_a_team(player) -> None:
    if TeamMembership.objects.filter(player=player).exists():
        raise ApiError("already_in_team", "Leave your current team first.", status.HTTP_409_CONFLICT)


def create_team(player, name: str, max_members: int = DEFAULT_SIZE) -> Team:
    name = (name or "").strip()
    if not 2 <= len(name) <= 60:
        raise ApiError("invalid_team_name", "A team name has 2 to 60 characters.", fields={"name": "2-60 characters"})
    if not MIN_SIZE <= max_members <= MAX_SIZE:
        raise ApiError("invalid_team_size", f"A team has {MIN_SIZE} to {MAX_SIZE} members.",
                       fields={"max_members": f"{MIN_SIZE}-{MAX_SIZE}"})
    with transaction.atomic():
        _not_in_a_team(player)
        try:
            with transaction.atomic():
                team = Team.objects.create(name=name, created_by=player, max_members=max_members)
                TeamMembership.objects.create(team=team, player=player)
        except IntegrityError:
            raise ApiError("team_exists", "That team name is taken, or you joined a team meanwhile.",
                           status.HTTP_409_CONFLICT) from None
    return team


def join_team(player, team_id: int) -> Team:
    """Join under a row lock on the team, so concurrent joins never exceed the limit."""
    with transaction.atomic():
        team = Team.objects.select_for_update().filter(pk=team_id).first()
        if team is None:
            raise ApiError("not_found", "No such team.", status.HTTP_404_NOT_FOUND)
        _not_in_a_team(player)
        if team.memberships.count() >= team.max_members:
            raise ApiError("team_full", f"{team.name} already has {team.max_members} members.",
                           status.HTTP_409_CONFLICT)
        try:
            with transaction.atomic():
                TeamMembership.objects.create(team=team, player=player)
        except IntegrityError:
            raise ApiError("already_in_team", "Leave your current team first.", status.HTTP_409_CONFLICT) from None
    return team


def leave_team(player, team_id: int) -> None:
    deleted, _ = TeamMembership.objects.filter(player=player, team_id=team_id).delete()
    if not deleted:
        raise ApiError("not_in_team", "You are not a member of this team.", status.HTTP_409_CONFLICT)


def member_ids(team_id: int) -> list[int]:
    return list(TeamMembership.objects.filter(team_id=team_id).values_list("player_id", flat=True))
