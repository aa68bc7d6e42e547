"""Pure game rules: levels, grades, k-medoids, streaks, sun position, board names and bands."""
from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pytest

from server.game import boards, grades, kmedoids, levels, solar, streaks


def test_levels_thresholds_titles_and_unlocks():
    assert [levels.level_for(x) for x in (0, 49, 50, 149, 150, 300, 10**6)] == [1, 1, 2, 2, 3, 4, 10]
    info = levels.level_info(60)
    assert (info.level, info.title, info.next_level_xp) == (2, "Listener", 150)
    assert levels.unlocked_scenarios(1) == ("quiz",)
    assert levels.unlocked_scenarios(2) == ("quiz", "hunt")
    assert levels.unlocked_scenarios(4) == ("quiz", "hunt", "timetravel", "adopt")
    assert levels.level_info(3000).next_level_xp is None
    assert len(set(levels.TITLES)) == len(levels.THRESHOLDS)


def test_grade_rules():
    assert grades.grade(["A"], [], False).status == "needs_id"
    assert grades.grade(["A"], [], True).status == "casual"
    assert grades.grade(["A", "A"], [], True).status == "research"           # 2/2 agree
    assert grades.grade(["A", "B"], [], False).status == "needs_id"          # 1/2
    assert grades.grade(["A", "A", "B"], [], False).status == "needs_id"     # exactly 2/3 is not enough
    r = grades.grade(["A", "A", "A", "B"], [], False)
    assert (r.status, r.community_taxon, r.agreeing, r.total) == ("research", "A", 3, 4)
    assert grades.grade(["A", "A"], [("wild", False)], False).status == "research"   # one voter never downgrades
    assert grades.grade(["A", "A"], [("wild", False), ("wild", True)], False).status == "research"


def test_quality_downgrade_needs_agreement():
    """A metric fails with at least ``min_votes_against`` "no" votes and more "no" than "yes" (iNaturalist's DQA)."""
    no, yes = ("wild", False), ("wild", True)
    assert grades.grade(["A", "A"], [no, ("date", False)], False).status == "research"   # one "no" per metric
    assert grades.grade(["A", "A"], [no, no], False).status == "casual"
    assert grades.grade(["A"], [no, no], False).status == "casual"
    assert grades.grade(["A", "A"], [no, no, yes], False).status == "casual"              # 2 > 1
    assert grades.grade(["A", "A"], [no, no, yes, yes], False).status == "research"       # a tie holds
    assert grades.grade(["A", "A"], [no, no], False, min_votes_against=3).status == "research"
    assert grades.grade(["A", "A"], [no, no, no], False, min_votes_against=3).status == "casual"
    assert grades.grade(["A", "A"], [no], False, min_votes_against=1).status == "casual"
    assert grades.grade(["A"], [yes, yes], True).status == "casual"   # votes for never upgrade a casual start


def test_kmedoids_farthest_first_finds_separated_clusters():
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=float)
    sizes = [12, 6, 3]
    x = np.concatenate([c + rng.normal(0, 0.3, (n, 2)) for c, n in zip(centres, sizes)])
    init = kmedoids.farthest_first(kmedoids.pairwise_distances(x), 3)
    assert len({int(np.argmin(np.linalg.norm(centres - x[i], axis=1))) for i in init}) == 3
    result = kmedoids.kmedoids(x, 3)
    assert sorted(result.sizes().tolist()) == sorted(sizes)
    for c, m in enumerate(result.medoids):
        members = np.flatnonzero(result.labels == c)
        cost = kmedoids.pairwise_distances(x)[np.ix_(members, members)].sum(axis=1)
        assert m == members[np.argmin(cost)]   # the medoid minimises the in-cluster distance
    assert kmedoids.default_k(30) == 10 and kmedoids.default_k(1) == 1
    assert kmedoids.kmedoids(np.zeros((4, 2)), 3).medoids.size == 1   # duplicates only: one cluster


def test_adopt_streak_with_grace():
    d = date(2026, 3, 1)
    s = streaks.next_streak(None, d, 0, False)
    assert (s.streak, s.grace_used) == (1, False)
    s = streaks.next_streak(d, date(2026, 3, 2), 1, False)
    assert s.streak == 2
    s = streaks.next_streak(date(2026, 3, 2), date(2026, 3, 4), 2, False)   # one missed day: forgiven once
    assert (s.streak, s.grace_used, s.broken) == (3, True, False)
    s = streaks.next_streak(date(2026, 3, 4), date(2026, 3, 6), 3, True)    # second miss breaks it
    assert (s.streak, s.broken) == (1, True)
    with pytest.raises(ValueError):
        streaks.next_streak(d, d, 1, False)


def test_sunrise_dawn_and_night_in_san_juan():
    noon = datetime(2026, 6, 21, 16, 0, tzinfo=timezone.utc)   # 12:00 local (UTC-4)
    rise = solar.sunrise_utc(noon, 18.45, -66.07)
    assert datetime(2026, 6, 21, 9, 45, tzinfo=timezone.utc) <= rise <= datetime(2026, 6, 21, 9, 55, tzinfo=timezone.utc)
    assert solar.is_dawn(datetime(2026, 6, 21, 10, 0, tzinfo=timezone.utc), 18.45, -66.07)
    assert not solar.is_dawn(noon, 18.45, -66.07)
    assert solar.is_night(datetime(2026, 6, 21, 6, 0, tzinfo=timezone.utc), 18.45, -66.07)   # 02:00 local
    assert solar.elevation_deg(noon, 18.45, -66.07) > 80
    assert solar.sunrise_utc(noon, 89.0, 0.0) is None   # polar day


def test_board_names_and_bands():
    assert boards.validate("alltime") == "alltime"
    assert boards.validate("species-Adelaide's Warbler")
    for bad in ("", "everything", "team-0", "team-x", "area-nothex", "weekly-2026-01"):
        with pytest.raises(boards.BoardNameError):
            boards.validate(bad)
    assert boards.band_for(0, 100) == (100.0, "top 1%")
    assert boards.band_for(9, 100)[1] == "top 10%"
    assert boards.band_for(99, 100)[1] == "top 100%"
    assert boards.group_for("species-Adelaide's Warbler").replace(".", "").isalnum()
