"""Registration, token login, and the three roles enforced in the API and the admin."""
from __future__ import annotations

import pytest

from server.accounts.models import Role, User

from .conftest import client_for

pytestmark = pytest.mark.django_db


def test_register_returns_a_token_and_a_player(client):
    response = client.post("/api/v1/auth/register/", {"username": "kestrel", "password": "s0ng-at-dawn!"},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["role"] == "player"
    assert body["token"].startswith("dawn_") and body["expiry"]
    me = client_for(User.objects.get(username="kestrel")).get("/api/v1/auth/me/")
    assert me.json()["username"] == "kestrel"


def test_register_cannot_choose_a_role(client):
    response = client.post("/api/v1/auth/register/", {"username": "sneaky", "password": "s0ng-at-dawn!",
                                                      "role": "admin"}, content_type="application/json")
    assert response.status_code == 201
    assert User.objects.get(username="sneaky").role == Role.PLAYER


@pytest.mark.parametrize("payload,code", [
    ({"username": "ab", "password": "s0ng-at-dawn!"}, "invalid"),
    ({"username": "kestrel", "password": "password"}, "weak_password"),
    ({"username": "kestrel"}, "invalid"),
    ({"username": "robin", "password": "s0ng-at-dawn!"}, "username_taken"),
])
def test_register_rejects_bad_input(client, player, payload, code):
    response = client.post("/api/v1/auth/register/", payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert User.objects.count() == 1


def test_login_and_logout(client, player):
    bad = client.post("/api/v1/auth/login/", {"username": "robin", "password": "nope"},
                      content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_credentials"
    good = client.post("/api/v1/auth/login/", {"username": "robin", "password": "correct horse battery"},
                       content_type="application/json")
    assert good.status_code == 200
    token = good.json()["token"]
    api = client_for(None)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/auth/me/").status_code == 401


def test_token_of_a_deactivated_user_is_refused(player):
    api = client_for(player)
    me = api.get("/api/v1/auth/me/")
    assert me.status_code == 200 and me.json()["username"] == "robin"
    User.objects.filter(pk=player.pk).update(is_active=False)
    refused = api.get("/api/v1/auth/me/")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"
    malformed = client_for(None)
    malformed.credentials(HTTP_AUTHORIZATION="Token two words")
    assert malformed.get("/api/v1/auth/me/").json()["error"]["code"] == "authentication_failed"


def test_only_admins_manage_roles(player, researcher, admin_user):
    url = f"/api/v1/users/{player.pk}/"
    for user in (player, researcher):
        client = client_for(user)
        assert client.get("/api/v1/users/").status_code == 403
        assert client.patch(url, {"role": "admin"}, format="json").status_code == 403
    admin = client_for(admin_user)
    assert admin.get("/api/v1/users/").status_code == 200
    response = admin.patch(url, {"role": "researcher"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "researcher"
    player.refresh_from_db()
    assert player.can_research and not player.is_staff
    bad = admin.patch(url, {"role": "emperor"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


def test_django_admin_only_for_admin_role(client, player, admin_user):
    client.force_login(player)
    assert client.get("/admin/").status_code == 302
    client.force_login(admin_user)
    assert admin_user.is_staff
    assert client.get("/admin/").status_code == 200
