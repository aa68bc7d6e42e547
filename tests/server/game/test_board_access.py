"""game.board_access: the board a player may follow live, as the realtime socket asks for it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from server.game import boards
from server.game.board_access import BoardForbidden, BoardNameError, BoardSubscription, board_subscription
from server.game.models import Team, TeamMembership

pytestmark = pytest.mark.django_db


def test_public_boards_are_open_and_weekly_is_this_week(player, monkeypatch):
    monkeypatch.setattr("server.game.board_access.timezone.now", lambda: datetime(2026, 3, 4, tzinfo=timezone.utc))
    assert board_subscription(player.pk, "alltime") == BoardSubscription("alltime", boards.group_for("alltime"))
    weekly = board_subscription(player.pk, "weekly")
    assert weekly.name == "weekly-2026W10" and weekly.group == boards.group_for("weekly-2026W10")


def test_a_team_board_is_open_to_its_members_only(player, other_player):
    team = Team.objects.create(name="Owls")
    TeamMembership.objects.create(team=team, player=other_player)
    assert board_subscription(other_player.pk, f"team-{team.pk}").name == f"team-{team.pk}"
    with pytest.raises(BoardForbidden):
        board_subscription(player.pk, f"team-{team.pk}")


@pytest.mark.parametrize("name", ["nonsense", "team-0", "area-not-a-cell", ""])
def test_a_name_that_is_no_board_is_refused(player, name):
    with pytest.raises(BoardNameError):
        board_subscription(player.pk, name)
