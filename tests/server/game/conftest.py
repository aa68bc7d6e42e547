"""Game test fixtures: badge definitions and facts from fixtures/game, clean Redis boards."""
from __future__ import annotations

import pytest

from server.game import leaderboards
from server.game.fixtures_loader import GAME_FIXTURES, load_badges, load_facts


@pytest.fixture(autouse=True)
def clean_boards():
    r = leaderboards.client()
    for pattern in ("dawn:lb:*", "dawn:rl:*"):
        keys = list(r.scan_iter(match=pattern, count=1000))
        if keys:
            r.delete(*keys)
    yield


@pytest.fixture
def game(catalogue):
    """The catalogue plus the shipped badge definitions and species facts."""
    load_badges(GAME_FIXTURES / "badges.json")
    load_facts(GAME_FIXTURES / "species_facts.json")
