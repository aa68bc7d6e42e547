"""API tokens: hashed at rest, expiring, exact, revoked at logout, never in the database as issued."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken

from server.accounts.tokens import MAX_TOKENS_PER_USER, issue_token

from .conftest import api_token, client_for

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def signed_in(token: str):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def me(token: str):
    return signed_in(token).get("/api/v1/auth/me/")


def login(client, username="robin"):
    response = client.post("/api/v1/auth/login/", {"username": username, "password": PASSWORD},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def test_login_answers_a_token_and_its_expiry(client, player, settings):
    body = login(client)
    expiry = timezone.datetime.fromisoformat(body["expiry"].replace("Z", "+00:00"))
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    assert abs((expiry - timezone.now()) - ttl) < timedelta(minutes=1)
    assert body["token"].startswith("dawn_") and body["user"]["username"] == "robin"
    assert me(body["token"]).status_code == 200


def test_tokens_are_stored_hashed(client, player):
    """No column of any stored token holds the token (or its secret part): a database dump
    does not sign anyone in. DRF's plain-text table is gone."""
    token = login(client)["token"]
    secret = token.removeprefix("dawn_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        dump = repr(cursor.fetchall())
        cursor.execute("SELECT to_regclass('authtoken_token')")
        assert cursor.fetchone()[0] is None
    assert str(player.pk) in dump and token not in dump and secret not in dump and secret[10:30] not in dump
    stored = AuthToken.objects.get(user=player)
    assert len(stored.digest) == 128 and stored.token_key == token[:15]


def test_an_expired_token_is_refused(player):
    token = api_token(player)
    assert me(token).status_code == 200
    AuthToken.objects.filter(user=player).update(expiry=timezone.now() - timedelta(seconds=1))
    refused = me(token)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"
    assert not AuthToken.objects.filter(user=player).exists()  # the library deletes it on sight


def test_use_moves_the_expiry_forward_up_to_the_maximum_age(player, settings):
    token = api_token(player)
    AuthToken.objects.filter(user=player).update(expiry=timezone.now() + timedelta(hours=1))
    assert me(token).status_code == 200
    renewed = AuthToken.objects.get(user=player).expiry
    assert renewed - timezone.now() > settings.REST_KNOX["TOKEN_TTL"] - timedelta(minutes=1)
    max_age = settings.REST_KNOX["AUTO_REFRESH_MAX_TTL"]
    AuthToken.objects.filter(user=player).update(created=timezone.now() - max_age + timedelta(hours=2),
                                                 expiry=timezone.now() + timedelta(hours=1))
    assert me(token).status_code == 200
    capped = AuthToken.objects.get(user=player).expiry
    assert capped - timezone.now() < timedelta(hours=2, minutes=1)


@pytest.mark.parametrize("change", [lambda t: t + "0", lambda t: t + "-extra", lambda t: t[:-1],
                                    lambda t: t[:40], lambda t: t[:15] + "0" * (len(t) - 15)])
def test_only_the_exact_token_signs_in(player, change):
    token = api_token(player)
    refused = me(change(token))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"
    assert me(token).status_code == 200


@pytest.mark.parametrize("header", ["Token dawn_\xff\xfe\xe9abc", "Token " + "\xe9" * 80, "Token", "Token a b"])
def test_malformed_tokens_answer_401_not_500(player, header):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=header)
    refused = client.get("/api/v1/auth/me/")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"


def test_logout_revokes_only_the_token_it_came_with(client, player):
    phone, browser = login(client)["token"], login(client)["token"]
    assert signed_in(phone).post("/api/v1/auth/logout/").status_code == 204
    assert me(phone).status_code == 401
    assert me(browser).status_code == 200


def test_a_user_keeps_a_bounded_number_of_tokens(player):
    tokens = [issue_token(player)[0] for _ in range(MAX_TOKENS_PER_USER + 2)]
    assert AuthToken.objects.filter(user=player).count() == MAX_TOKENS_PER_USER
    assert me(tokens[0]).status_code == 401 and me(tokens[-1]).status_code == 200


def test_register_answers_a_token_too(client):
    response = client.post("/api/v1/auth/register/", {"username": "kestrel", "password": "s0ng-at-dawn!"},
                           content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert body["expiry"] and me(body["token"]).json()["username"] == "kestrel"


def test_demo_users_command_prints_no_token(settings, db, capsys):
    from io import StringIO

    from django.core.management import call_command

    settings.DEBUG = True
    out = StringIO()
    call_command("create_demo_users", stdout=out)
    assert "token" not in out.getvalue().lower() and "dawn_" not in out.getvalue()
    assert not AuthToken.objects.exists()


def test_demo_users_exist_on_a_local_instance_without_debug(settings, db):
    from io import StringIO

    from django.core.management import call_command

    from server.accounts.models import User

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]   # what make run serves
    call_command("create_demo_users", stdout=StringIO())
    assert set(User.objects.values_list("username", flat=True)) >= {"admin", "researcher", "player"}


def test_demo_users_are_refused_where_other_hosts_are_served(settings, db):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from server.accounts.models import User

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["127.0.0.1", "dawnchorus.example.org"]
    with pytest.raises(CommandError, match="loopback"):
        call_command("create_demo_users", stdout=StringIO())
    assert not User.objects.exists()


def test_the_hourly_purge_drops_expired_tokens_and_stale_login_failures(player, settings):
    from axes.models import AccessAttempt

    from server.accounts.tasks import purge_expired_credentials

    live, dead = api_token(player), api_token(player)
    AuthToken.objects.filter(token_key=dead[:15]).update(expiry=timezone.now() - timedelta(seconds=1))
    old = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
    for name, when in (("stale", old), ("recent", timezone.now())):
        attempt = AccessAttempt.objects.create(username=name, ip_address="10.0.0.1", user_agent="t", get_data="",
                                               post_data="", http_accept="", path_info="/", failures_since_start=1)
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=when)  # a field set on creation
    assert purge_expired_credentials() == {"tokens": 1, "login_failures": 1}
    assert me(live).status_code == 200
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["recent"]
    assert "purge-expired-credentials" in settings.CELERY_BEAT_SCHEDULE
