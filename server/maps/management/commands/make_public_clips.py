from django.core.management.base import BaseCommand

from server.maps.public_clip_backfill import backfill
from server.observations.public_reads import observations_from


class Command(BaseCommand):
    help = ("Give every observation whose licence allows publishing a public clip made from its stored "
            "audio (segment only, speech muted, Ogg/Opus without tags), and remove clips whose licence "
            "no longer allows one. Idempotent: observations that already have a clip are kept.")

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="remake clips that already exist")
        parser.add_argument("--source", choices=["app", "xeno-canto"], default=None)

    def handle(self, *args, force: bool, source: str | None, **options):
        counts = backfill(observations_from(source), force=force)
        self.stdout.write("public clips: " + ", ".join(f"{k} {v}" for k, v in counts.as_dict().items()))
