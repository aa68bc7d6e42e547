"""federated 0003 (issue 25, one model set): the urban set's server state goes, the birds set's becomes
the field set's, a schedule of the urban set is disabled; and back again."""
from __future__ import annotations

import pytest

from tests.server.migration_steps import migrate, state_at

BEFORE = [("federated", "0002_secure_aggregation")]
AFTER = [("federated", "0003_one_field_model_set")]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def before():
    """The federated tables as they were before 0003, back at the latest state afterwards."""
    yield from state_at(BEFORE)


def test_forward_keeps_the_birds_state_drops_the_urban_one_and_disables_urban_schedules(before):
    ServerState, RoundSchedule = before.get_model("federated", "ServerState"), before.get_model("federated", "RoundSchedule")
    ServerState.objects.create(model_set="birds", optimiser=b"birds-state", privacy_events=[[0.5, 1.0]])
    ServerState.objects.create(model_set="urban", optimiser=b"urban-state")
    RoundSchedule.objects.create(name="birds-nightly", model_set="birds")
    RoundSchedule.objects.create(name="urban-nightly", model_set="urban")
    RoundSchedule.objects.create(name="birds-paused", model_set="birds", enabled=False)

    after = migrate(AFTER)
    states = list(after.get_model("federated", "ServerState").objects.values_list("model_set", "optimiser",
                                                                                "privacy_events"))
    assert [(s, bytes(o), e) for s, o, e in states] == [("field", b"birds-state", [[0.5, 1.0]])]
    schedules = dict(after.get_model("federated", "RoundSchedule").objects.values_list("name", "enabled"))
    assert schedules == {"birds-nightly": True, "urban-nightly": False, "birds-paused": False}

    back = migrate(BEFORE)
    assert list(back.get_model("federated", "ServerState").objects.values_list("model_set", flat=True)) == ["birds"]
    assert set(back.get_model("federated", "RoundSchedule").objects.values_list("model_set", flat=True)) == {"birds"}
