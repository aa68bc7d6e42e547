"""GET /api/v1/game/area/ names a position's area cells and boards, so phones need no H3 library."""
from __future__ import annotations

import pytest
from django.test import Client

from server.game.boards import boards_for, validate
from server.game.geo import cell_of, region_of

pytestmark = pytest.mark.django_db


def test_the_area_answer_names_the_boards_points_count_on():
    data = Client().get("/api/v1/game/area/", {"lat": "18.2960", "lng": "-65.7850"}).json()
    cell = cell_of(18.2960, -65.7850)
    assert data == {"cell": cell, "region": region_of(cell),
                    "boards": {"local": f"area-{cell}", "regional": f"area-{region_of(cell)}"}}
    from datetime import datetime, timezone

    scored = boards_for(created_at=datetime(2026, 12, 6, tzinfo=timezone.utc), cell=cell, species_label="",
                        team_id=None)
    assert data["boards"]["local"] in scored and validate(data["boards"]["local"])


@pytest.mark.parametrize("params", [{}, {"lat": "18.3"}, {"lat": "x", "lng": "1"}, {"lat": "91", "lng": "0"},
                                    {"lat": "nan", "lng": "0"}, {"lat": "0", "lng": "-181"}])
def test_bad_positions_answer_invalid_coordinates(params):
    response = Client().get("/api/v1/game/area/", params)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_coordinates"
