import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from server.accounts.models import Role, User

DEMO_USERS = [("admin", Role.ADMIN), ("researcher", Role.RESEARCHER), ("player", Role.PLAYER)]


class Command(BaseCommand):
    help = "Create the demo accounts admin/researcher/player (DEBUG only) and print their tokens."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Demo users are only created with DJANGO_DEBUG=1.")
        password = os.environ.get("DAWN_DEMO_PASSWORD", "dawnchorus")
        for username, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"role": role})
            if created:
                user.set_password(password)
                user.is_superuser = role == Role.ADMIN
                user.save()
            token, _ = Token.objects.get_or_create(user=user)
            self.stdout.write(f"demo {role:<10} {username:<10} password={password if created else '(unchanged)'} "
                              f"token={token.key}")
