from django.core.management.base import BaseCommand

from server.game.leaderboards import rebuild


class Command(BaseCommand):
    help = "Rebuild every Redis leaderboard from the points ledger."

    def handle(self, *args, **options):
        self.stdout.write(f"{rebuild()} boards rebuilt from the ledger")
