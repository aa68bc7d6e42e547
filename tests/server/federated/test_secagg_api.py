"""Secure aggregation over the API: five phones run keys → shares → masked input → unmask through
the server; one drops after sharing its keys (its masks are removed with the survivors' shares),
one survivor never reveals. The unmasked aggregate equals the plain sum of the survivors'
quantised updates, and what the server stores for one phone is uncorrelated with its update."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from ml.federated.embedding import head_of
from ml.runtime.federated.secagg_wire import PhoneSecAgg, b64
from ml.runtime.federated import codec
from server.federated.aggregation import aggregate_round
from server.federated.models import Assignment, ClientUpdate, Round, RoundStatus
from server.federated.secagg import advance_due, secure_sum
from server.federated.services import load_model, open_round, set_enrollment

from ..conftest import client_for, make_user
from .conftest import give_observations, submission

pytestmark = pytest.mark.django_db
SECURE = {"threshold": 3, "bits": 8, "coord_bound": 0.1}


@pytest.fixture
def five(catalogue):
    users = [make_user(f"sa{i}", "player") for i in range(5)]
    for u in users:
        set_enrollment(u, True)
        give_observations(u, 3)
    return users


@pytest.fixture
def secure_round(base_model, five):
    return open_round(clients_per_round=5, quorum=3, clip_norm=1.0, seed=5, promote_tolerance=1.0,
                      secure_aggregation=SECURE)


class Phone:
    """A simulated phone speaking the protocol over the API."""

    def __init__(self, user, seed: int):
        self.api = client_for(user)
        self.rng = np.random.default_rng(seed)
        self.session: PhoneSecAgg | None = None
        self.q: np.ndarray | None = None

    def task(self) -> dict | None:
        return self.api.get("/api/v1/fl/task").json()["task"]

    def post(self, path: str, body: dict, status: int = 201) -> dict:
        r = self.api.post(path, body, format="json")
        assert r.status_code == status, r.json()
        return r.json()

    def keys(self) -> dict:
        task = self.task()
        assert task["secure_aggregation"]["next"] == "advertise_keys"
        self.session = PhoneSecAgg.from_task(task["secure_aggregation"])
        return self.post("/api/v1/fl/secagg/keys", self.session.keys_body(task["round"]))

    def shares(self) -> dict:
        task = self.task()
        sa = task["secure_aggregation"]
        assert sa["next"] == "share_keys" and len(sa["peers"]) == 5
        return self.post("/api/v1/fl/secagg/shares", self.session.shares_body(task["round"], sa))

    def masked_update(self) -> dict:
        task = self.task()
        sa = task["secure_aggregation"]
        assert sa["next"] == "submit_masked"
        tensors = {k: self.rng.normal(size=tuple(s)) for k, s in task["trainable"]["tensors"].items()}
        delta, _ = codec.clip_update(tensors, 0.5 * task["clip_norm"])
        masked, self.q = self.session.masked(sa, delta, self.rng)
        body = submission(task, None, masked=masked)
        del body["update"]
        return self.post("/api/v1/fl/updates", body)

    def reveal(self) -> dict:
        task = self.task()
        sa = task["secure_aggregation"]
        assert sa["next"] == "reveal"
        return self.post("/api/v1/fl/secagg/reveal", self.session.reveal_body(task["round"], sa))


def phones_of(rnd) -> list[Phone]:
    rows = rnd.assignments.select_related("user").order_by("secagg_id")
    return [Phone(a.user, seed=a.secagg_id) for a in rows]


def expire_phase(rnd) -> list[int]:
    past = timezone.now() - timedelta(seconds=1)
    Round.objects.filter(pk=rnd.pk).update(phase_deadline=past, **({"deadline": past}
                                                                   if rnd.secagg_phase == "input" else {}))
    ready = advance_due()
    rnd.refresh_from_db()
    return ready


def test_secure_round_over_the_api_sums_exactly_with_a_dropout_and_stores_nothing_readable(secure_round):
    rnd = secure_round
    phones = phones_of(rnd)
    assert [p.task()["secure_aggregation"]["client_id"] for p in phones] == [1, 2, 3, 4, 5]
    for p in phones:
        p.keys()
    rnd.refresh_from_db()
    assert rnd.secagg_phase == "shares"
    for p in phones:
        p.shares()
    rnd.refresh_from_db()
    assert rnd.secagg_phase == "input"
    survivors = phones[:4]  # phone 5 drops after its shares went out: its pairwise masks are in the others' inputs
    for p in survivors:
        ack = p.masked_update()
        assert ack["norm"] is None and ack["payload_bytes"] == rnd.trainable["parameters"]  # 1 byte per parameter
    assert expire_phase(rnd) == [] and rnd.secagg_phase == "unmask"
    for p in survivors[:3]:  # phone 4 sent its masked update but never reveals: 3 = t reveals are enough
        p.reveal()
    assert phones[4].task() is None  # the dropped phone has nothing left to do
    assert expire_phase(rnd) == [rnd.pk]

    truth = sum(p.q for p in survivors)
    total, facts = secure_sum(rnd)
    assert np.array_equal(total, truth)
    assert facts["survivors"] == [1, 2, 3, 4] and facts["dropped"] == [5] and facts["reveals"] == 3

    # what the server stores for phone 1 says nothing about its update
    row = ClientUpdate.objects.get(round=rnd, user=Assignment.objects.get(round=rnd, secagg_id=1).user)
    stored = np.frombuffer(bytes(row.payload), np.uint8).astype(np.float64)
    q1 = survivors[0].q.astype(np.float64)
    assert row.masked and row.norm is None and stored.size == q1.size
    assert abs(np.corrcoef(stored, q1)[0, 1]) < 0.1
    assert abs(stored.mean() - 127.5) < 5 and np.unique(stored).size > 200  # spread over the whole ring
    # ... nor does the naive sum of what arrived (masks of the dropped phone and self masks remain)
    naive = sum(np.frombuffer(bytes(r.payload), np.uint8).astype(np.int64) for r in rnd.updates.all()) % 256
    assert abs(np.corrcoef(naive, truth)[0, 1]) < 0.1

    # aggregation applies the unmasked mean and records the protocol's facts
    assert aggregate_round(rnd.pk) == "promoted"
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.DONE, rnd.error
    base = head_of(load_model(rnd.model_version))
    new = head_of(load_model(rnd.result_version))
    scale = facts["scale"]
    got = np.concatenate([(new[k].astype(np.float64) - base[k]).ravel() for k in sorted(base)])
    assert np.allclose(got, scale * truth / 4, atol=1e-5)
    m = rnd.metrics
    assert m["secure_aggregation"]["dropped"] == [5] and m["participants"] == 4 and m["dropouts"] == 1
    assert m["payload_bytes_per_client"] == m["float32_bytes_per_client"] / 4
    assert 0 < m["secure_aggregation"]["protocol_bytes_per_client"] < 2000


def test_protocol_messages_are_checked_and_refused_with_clear_codes(secure_round, base_model, five):
    rnd = secure_round
    phones = phones_of(rnd)
    a, b = phones[0], phones[1]
    task = a.task()
    assert a.post("/api/v1/fl/secagg/shares", {"round": rnd.pk, "shares": {}}, 409)["error"]["code"] == \
        "secagg_wrong_phase"
    bad_key = {"round": rnd.pk, "c_pk": b64(b"\x01" * 31), "s_pk": b64(b"\x02" * 32)}
    assert a.post("/api/v1/fl/secagg/keys", bad_key, 400)["error"]["code"] == "secagg_bad_key"
    a.keys()
    again = a.post("/api/v1/fl/secagg/keys", a.session.keys_body(rnd.pk), 409)
    assert again["error"]["code"] == "secagg_duplicate"
    plain = submission(task, {"weight": {}, "bias": {}})
    assert a.post("/api/v1/fl/updates", plain, 409)["error"]["code"] == "secagg_wrong_phase"
    for p in phones[1:]:
        p.keys()
    sa = b.task()["secure_aggregation"]
    body = b.session.shares_body(rnd.pk, sa)
    short = {**body, "shares": {k: v for k, v in list(body["shares"].items())[:-1]}}
    assert b.post("/api/v1/fl/secagg/shares", short, 400)["error"]["code"] == "secagg_bad_shares"
    assert Assignment.objects.filter(round=rnd).exclude(share_blobs=None).count() == 0  # nothing half-written
    for p in phones:
        p.shares()
    task = a.task()
    assert a.post("/api/v1/fl/updates", submission(task, {"bias": {}}), 400)["error"]["code"] == "update_malformed"
    wrong_len = submission(task, None, masked=b64(b"\x00" * 10))
    del wrong_len["update"]
    assert a.post("/api/v1/fl/updates", wrong_len, 400)["error"]["code"] == "update_shape_mismatch"
    assert ClientUpdate.objects.count() == 0
    outsider = make_user("nosy", "player")
    r = client_for(outsider).post("/api/v1/fl/secagg/keys", {"round": rnd.pk, "c_pk": "", "s_pk": ""}, format="json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "round_not_assigned"
    plain_round = open_round(clients_per_round=3, quorum=3, clip_norm=1.0, seed=9)
    user = plain_round.assignments.first().user
    r = client_for(user).post("/api/v1/fl/secagg/keys", {**a.session.keys_body(rnd.pk), "round": plain_round.pk},
                              format="json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "secagg_not_enabled"


def test_unmask_refuses_inconsistent_reveals_and_too_few_survivors_fail_the_round(secure_round):
    rnd = secure_round
    phones = phones_of(rnd)
    for step in ("keys", "shares"):
        for p in phones:
            getattr(p, step)()
    for p in phones[:3]:
        p.masked_update()
    expire_phase(rnd)
    task = phones[0].task()
    body = phones[0].session.reveal_body(task["round"], task["secure_aggregation"])
    body["shares"]["4"]["kind"] = "b"  # phone 4 dropped: asking for both of its secrets must fail
    assert phones[0].post("/api/v1/fl/secagg/reveal", body, 400)["error"]["code"] == "secagg_bad_reveal"
    phones[0].reveal()
    phones[1].reveal()  # the third survivor stays silent: 2 reveals < t = 3
    assert expire_phase(rnd) == []
    assert rnd.status == RoundStatus.FAILED and "threshold is 3" in rnd.error


def test_secure_aggregation_settings_are_validated(base_model, five):
    with pytest.raises(ValueError, match="mean aggregator"):
        open_round(clients_per_round=5, strategy={"aggregator": "median"}, secure_aggregation=SECURE)
    with pytest.raises(ValueError, match="majority"):
        open_round(clients_per_round=5, secure_aggregation={"threshold": 2})
    with pytest.raises(ValueError, match="bits"):
        open_round(clients_per_round=5, secure_aggregation={"bits": 12})
