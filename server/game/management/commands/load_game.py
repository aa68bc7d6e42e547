from django.core.management.base import BaseCommand

from server.game.fixtures_loader import load_all


class Command(BaseCommand):
    help = "Load fixtures/game/: badge definitions, adopt-a-bird species facts, demo quests (idempotent)."

    def handle(self, *args, **options):
        counts = load_all()
        self.stdout.write(", ".join(f"{v} {k}" for k, v in counts.items()))
