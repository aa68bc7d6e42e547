from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from server.observations.demo_import import DemoImportError, default_source, import_observations


class Command(BaseCommand):
    help = ("Import real xeno-canto observations (../shared/data/birds-pr/observations.csv, "
            "or the copy in fixtures/demo/) as demo observations.")

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=None)

    def handle(self, *args, file: Path | None, **options):
        path = file or default_source()
        try:
            created, updated = import_observations(path)
        except (DemoImportError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"observations from {path}: {created} created, {updated} updated")
