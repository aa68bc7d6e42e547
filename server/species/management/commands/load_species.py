from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from server.species.catalogue import DEFAULT_CATALOGUE, CatalogueError, load_catalogue


class Command(BaseCommand):
    help = "Load or update the species catalogue from fixtures/species.json (or --file)."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEFAULT_CATALOGUE)

    def handle(self, *args, file: Path, **options):
        try:
            created, updated = load_catalogue(file)
        except CatalogueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"species: {created} created, {updated} updated")
