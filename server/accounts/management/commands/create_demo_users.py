from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from server.accounts.models import Role, User

DEMO_USERS = [("admin", Role.ADMIN), ("researcher", Role.RESEARCHER), ("player", Role.PLAYER)]


class Command(BaseCommand):
    help = ("Create the demo accounts admin/researcher/player (DEBUG only). No token is printed: "
            "clients get one from POST /api/v1/auth/login/.")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Demo users are only created with DJANGO_DEBUG=1.")
        password = settings.DEMO_PASSWORD
        for username, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"role": role})
            if created:
                user.set_password(password)
                user.is_superuser = role == Role.ADMIN
                user.save()
            self.stdout.write(f"demo {role:<10} {username:<10} password={password if created else '(unchanged)'}")
