"""``manage.py register_model PATH [PATH...] [--set field] [--current | --if-none-current] [--source shipped]``."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ml.runtime.model_format import ModelFormatError, load_model_file
from server.modelregistry import services
from server.modelregistry.models import LEGACY_SETS, RETIRED_SETS, ModelSet, Source

SET_CHOICES = [ModelSet.FIELD.value, *LEGACY_SETS]  # birds: field's old name; urban (retired): refused, saying why


class Command(BaseCommand):
    help = ("Register runtime model files in the model registry (idempotent), optionally making one current. "
            "Every file joins the one model set, field; a file of the retired urban set is refused (exit status 2).")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--set", dest="model_set", choices=SET_CHOICES,
                            help="field (the only set; birds is accepted as its old name; urban is retired)")
        parser.add_argument("--current", action="store_true", help="promote to the current model")
        parser.add_argument("--if-none-current", action="store_true",
                            help="promote only when there is no current model yet (used by `make run`)")
        parser.add_argument("--source", choices=Source.values, default=Source.CENTRAL)

    def handle(self, *args, paths, model_set, current, if_none_current, source, **options):
        if model_set in RETIRED_SETS:
            raise CommandError(f"--set {model_set}: {RETIRED_SETS[model_set]}; nothing registered.", returncode=2)
        for path in paths:  # every file's set first: one refused file registers none of them
            try:
                services.model_set_of(load_model_file(path)[0], model_set)
            except (OSError, ModelFormatError) as exc:
                raise CommandError(f"{path}: {exc}; nothing registered.", returncode=2) from None
        for path in paths:
            try:
                mv = services.register_model_file(path, model_set, source=source)
            except (OSError, ModelFormatError) as exc:
                raise CommandError(f"{path}: {exc}", returncode=2) from None
            if current or (if_none_current and services.current_version() is None):
                services.promote(mv)
            self.stdout.write(f"{mv.version} ({mv.model_set}, sha256 {mv.sha256[:12]}){' current' if mv.is_current else ''}")
