"""``insert_once``: a row its unique constraint refuses is skipped, the transaction stays usable, and any
other integrity error propagates."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from server.game.insert_once import insert_once
from server.game.models import BadgeDefinition, PlayerBadge, PointEvent

pytestmark = pytest.mark.django_db


def event(player, cause: str, amount: int | None = 5) -> PointEvent:
    return PointEvent(player=player, rule="quiz_answer", cause=cause, amount=amount, created_at=timezone.now())


def test_a_refused_row_is_skipped_and_the_transaction_goes_on(player):
    with transaction.atomic():
        first = event(player, "q:1")
        assert insert_once(first, "point_event_one_per_cause") and first.pk is not None
        assert not insert_once(event(player, "q:1"), "point_event_one_per_cause")
        assert insert_once(event(player, "q:2"), "point_event_one_per_cause")
    assert sorted(PointEvent.objects.filter(player=player).values_list("cause", flat=True)) == ["q:1", "q:2"]


def test_only_the_named_constraint_is_a_refusal(player):
    badge = BadgeDefinition.objects.create(slug="b", name="B", description="B.", metric="recordings")
    assert insert_once(PlayerBadge(player=player, badge=badge, earned_at=timezone.now()), "player_badge_once")
    with pytest.raises(IntegrityError):   # the key exists, but another constraint was named
        insert_once(PlayerBadge(player=player, badge=badge, earned_at=timezone.now()), "point_event_one_per_cause")
    with pytest.raises(IntegrityError):   # not a unique refusal at all
        insert_once(event(player, "q:3", amount=None), "point_event_one_per_cause")
    assert PlayerBadge.objects.filter(player=player).count() == 1
