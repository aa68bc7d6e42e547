"""Profile, leaderboards, quests and teams."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from server.common.errors import ApiError
from server.observations import player_reads

from .. import boards, leaderboards, quests, teams
from ..models import Quest, Team, TeamMembership
from ..profile import profile
from ..serializers import ContributeSerializer, TeamCreateSerializer
from .common import awarding, body


class ProfileView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, description="XP, level, title, next_level_xp, badges, "
                   "unlocked scenarios, team and streaks of the signed-in player.")
    def get(self, request):
        return Response(profile(request.user, timezone.now().date()))


class LeaderboardView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("around", str, description="'me' (default) adds own rank ±5"),
                               OpenApiParameter("top", int, description="1-100, default 50")],
                   responses={200: OpenApiTypes.OBJECT},
                   description="Boards: alltime, weekly, weekly-<YYYYWww>, area-<h3 cell>, species-<label>, "
                               "team-<id> (members only). Top entries, own rank, ±5 around and percentile band.")
    def get(self, request, board: str):
        try:
            name = boards.resolve(boards.validate(board), timezone.now())
        except boards.BoardNameError as exc:
            raise ApiError("invalid_board", str(exc)) from None
        if name.startswith("team-") and not TeamMembership.objects.filter(
                player=request.user, team_id=int(name[5:])).exists():
            raise ApiError("permission_denied", "Team boards are for the team's members.", status.HTTP_403_FORBIDDEN)
        try:
            top = int(request.query_params.get("top", 50))
        except ValueError:
            top = -1
        if not 1 <= top <= 100:
            raise ApiError("invalid_filter", "top is an integer from 1 to 100.", fields={"top": "1-100"})
        me = request.user.pk if request.query_params.get("around", "me") == "me" else None
        return Response(leaderboards.view(name, me, top=top))


def quest_json(quest: Quest, player_id: int) -> dict:
    progress = quests.progress_for(player_id, quest)
    return {"id": quest.pk, "slug": quest.slug, "title": quest.title, "description": quest.description,
            "mode": quest.mode, "species": [s.label for s in quest.species.all()],
            "area": quest.area.geojson if quest.area else None, "starts_at": quest.starts_at,
            "ends_at": quest.ends_at, "target_count": quest.target_count, "reward_points": quest.reward_points,
            "reward_badge": quest.reward_badge.slug if quest.reward_badge else None,
            "progress": {"count": progress.count if progress else 0,
                         "completed": bool(progress and progress.completed_at), "team": progress.team_id
                         if progress else None}}


class QuestListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, description="Quests running now, with your progress "
                   "(team quests: your team's).")
    def get(self, request):
        now = timezone.now()
        qs = (Quest.objects.filter(active=True, ends_at__gte=now, starts_at__lte=now)
              .prefetch_related("species").select_related("reward_badge"))
        return Response({"results": [quest_json(q, request.user.pk) for q in qs]})


class QuestContributeView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "game_write"

    @extend_schema(request=ContributeSerializer, responses={200: OpenApiTypes.OBJECT},
                   description="Count one of your accepted observations towards a quest (normally automatic). "
                               "Errors: quest_expired, quest_not_started, quest_species_mismatch, quest_outside_area, "
                               "team_required, already_counted.")
    def post(self, request, pk: int):
        data = body(ContributeSerializer, request)
        quest = Quest.objects.filter(pk=pk).first()
        obs = player_reads.observation(data["observation"])
        if quest is None or obs is None:
            raise ApiError("not_found", "No such quest or observation.", status.HTTP_404_NOT_FOUND)
        with awarding() as batch:
            progress = quests.contribute(quest, obs, batch)
        if progress is None:
            raise ApiError("already_counted", "This observation already counts, or the quest is complete.",
                           status.HTTP_409_CONFLICT)
        return Response(quest_json(quest, request.user.pk))


def team_json(team: Team) -> dict:
    members = list(team.memberships.select_related("player").order_by("joined_at"))
    return {"id": team.pk, "name": team.name, "max_members": team.max_members, "size": len(members),
            "members": [{"player": m.player_id, "name": m.player.display_name or m.player.username}
                        for m in members]}


class TeamListView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "game_write"

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response({"results": [team_json(t) for t in Team.objects.all()[:200]]})

    @extend_schema(request=TeamCreateSerializer, responses={201: OpenApiTypes.OBJECT},
                   description="Create a team and join it. Errors: already_in_team, team_exists, invalid_team_size.")
    def post(self, request):
        data = body(TeamCreateSerializer, request)
        team = teams.create_team(request.user, data["name"], data["max_members"])
        return Response(team_json(team), status=status.HTTP_201_CREATED)


class TeamJoinView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "game_write"

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, description="Errors: team_full, already_in_team.")
    def post(self, request, pk: int):
        return Response(team_json(teams.join_team(request.user, pk)))


class TeamLeaveView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, description="Errors: not_in_team.")
    def post(self, request, pk: int):
        teams.leave_team(request.user, pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
