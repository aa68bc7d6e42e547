"""``manage.py register_model PATH [PATH...] [--set birds] [--current] [--source shipped]``."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ml.runtime.model_format import ModelFormatError
from server.modelregistry import services
from server.modelregistry.models import ModelSet, Source


class Command(BaseCommand):
    help = "Register runtime model files in the model registry (idempotent), optionally making them current."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--set", dest="model_set", choices=ModelSet.values,
                            help="model set when the file header does not name one")
        parser.add_argument("--current", action="store_true", help="promote to the current model of its set")
        parser.add_argument("--if-none-current", action="store_true",
                            help="promote only when the set has no current model yet (used by `make run`)")
        parser.add_argument("--source", choices=Source.values, default=Source.CENTRAL)

    def handle(self, *args, paths, model_set, current, if_none_current, source, **options):
        for path in paths:
            try:
                mv = services.register_model_file(path, model_set, source=source)
            except (OSError, ModelFormatError) as exc:
                raise CommandError(f"{path}: {exc}") from None
            if current or (if_none_current and services.current_version(mv.model_set) is None):
                services.promote(mv)
            self.stdout.write(f"{mv.version} ({mv.model_set}, sha256 {mv.sha256[:12]}){' current' if mv.is_current else ''}")
