"""Which leaderboard a player may follow live: the one question the realtime socket asks the game."""
from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from .boards import BoardNameError, group_for, resolve, validate
from .models import TeamMembership

__all__ = ["BoardForbidden", "BoardNameError", "BoardSubscription", "board_subscription"]


class BoardForbidden(PermissionError):
    """A team board of a team the player is not a member of."""


@dataclass(frozen=True)
class BoardSubscription:
    name: str   # the stored board ('weekly' is resolved to the current ISO week's)
    group: str  # the Channels group its changes are sent to


def board_subscription(user_id: int, requested: str) -> BoardSubscription:
    """The board ``requested`` names, for player ``user_id`` to follow. Public boards are open to every
    player, ``team-<id>`` to its members only. Raises :class:`BoardNameError` for a name that is no board
    and :class:`BoardForbidden` for a foreign team board; reads the database for team boards only."""
    name = validate(requested)
    if name.startswith("team-") and not TeamMembership.objects.filter(player_id=user_id,
                                                                       team_id=int(name[5:])).exists():
        raise BoardForbidden(name)
    name = resolve(name, timezone.now())
    return BoardSubscription(name, group_for(name))
