"""``manage.py create_demo_users``: the demo accounts of ``make run``, with the shared demo password.

Contract: accounts with a published password exist only on an instance that is reachable under
local host names alone (every ``ALLOWED_HOSTS`` entry a loopback name), or in debug mode. A
deployment that serves any other host name refuses with a CommandError and creates nothing.
Existing accounts keep their password. No token is created or printed.
"""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from server.accounts.models import Role, User

DEMO_USERS = [("admin", Role.ADMIN), ("researcher", Role.RESEARCHER), ("player", Role.PLAYER)]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver"}


def local_only() -> bool:
    """Whether Django answers only to loopback host names."""
    return all(host.strip().lower() in LOCAL_HOSTS for host in settings.ALLOWED_HOSTS if host.strip())


class Command(BaseCommand):
    help = ("Create the demo accounts admin/researcher/player with the demo password, on a local-only "
            "instance (ALLOWED_HOSTS of loopback names) or in debug mode. No token is printed: clients "
            "get one from POST /api/v1/auth/login/.")

    def handle(self, *args, **options):
        if not (settings.DEBUG or local_only()):
            raise CommandError("Demo users have a published password: they are only created when "
                               "DJANGO_ALLOWED_HOSTS lists loopback names alone, or with DJANGO_DEBUG=1.")
        password = settings.DEMO_PASSWORD
        for username, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"role": role})
            if created:
                user.set_password(password)
                user.is_superuser = role == Role.ADMIN
                user.save()
            self.stdout.write(f"demo {role:<10} {username:<10} password={password if created else '(unchanged)'}")
