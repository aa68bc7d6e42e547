"""A player's game profile: XP, level, title, badges, unlocked scenarios, streaks."""
from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Max

from .ledger import total_xp
from .levels import level_info
from .models import Adoption, PlayerBadge, PointEvent, TeamMembership


def recording_streak(player_id: int, today: date) -> int:
    """Consecutive days, ending today or yesterday, with an accepted recording."""
    days = set()
    for tags in PointEvent.objects.filter(player_id=player_id, rule="recording_accepted").values_list("tags", flat=True):
        days |= {t[4:] for t in tags if t.startswith("day:")}
    streak, day = 0, today if today.isoformat() in days else today - timedelta(days=1)
    while day.isoformat() in days:
        streak += 1
        day -= timedelta(days=1)
    return streak


def profile(user, today: date) -> dict:
    info = level_info(total_xp(user.pk))
    badges = [{"slug": b.badge.slug, "name": b.badge.name, "description": b.badge.description,
               "earned_at": b.earned_at} for b in PlayerBadge.objects.filter(player=user).select_related("badge")]
    team = TeamMembership.objects.filter(player=user).select_related("team").first()
    return {
        "player": user.pk, "name": user.display_name or user.username, "xp": info.xp, "level": info.level,
        "title": info.title, "next_level_xp": info.next_level_xp, "unlocked_scenarios": list(info.unlocked),
        "badges": badges, "team": {"id": team.team_id, "name": team.team.name} if team else None,
        "streaks": {"daily_recording": recording_streak(user.pk, today),
                    "adopt_best": Adoption.objects.filter(player=user).aggregate(m=Max("best_streak"))["m"] or 0},
    }
