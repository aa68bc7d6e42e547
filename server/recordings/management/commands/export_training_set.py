from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from server.recordings.training_set import GRADES, KINDS, TrainingSetError, export_training_set

EXIT_USAGE = 2


class Command(BaseCommand):
    help = ("Export research-grade and reviewer-labelled recordings as training data: OUT/manifest.csv (file, "
            "label, recordist, licence, lat, lng, date, grade, kind, recording_id, observation_id) and "
            "OUT/audio/*.flac (each recording's marked segment, re-encoded without the upload's tags), for "
            "'python -m ml train|cv --manifest OUT/manifest.csv'. A researcher/admin tool: the manifest carries "
            "TRUE coordinates, also of sensitive species; never publish it. Refuses (exit status 2, nothing "
            "written) an unknown grade or kind, an OUT that is not missing or empty, and an empty selection.")

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, required=True, help="folder to create (missing or empty)")
        parser.add_argument("--grade", action="append", default=[], metavar="GRADE",
                            help=f"one of {', '.join(GRADES)}; repeat for several (default: all)")
        parser.add_argument("--kind", default=None, metavar="KIND", help=f"only {' or '.join(KINDS)} labels")

    def handle(self, *args, out: Path, grade: list[str], kind: str | None, **options):
        try:
            result = export_training_set(out, grade, kind)
        except TrainingSetError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None
        for line in result.skipped:
            self.stderr.write(f"skipped {line}")
        if len(result.labels) < 2:
            self.stderr.write(f"note: one label only ({result.labels[0]}); training needs at least two classes, "
                              "so use it beside another manifest.")
        self.stdout.write(f"{result.manifest}: {result.rows} recordings, {len(result.labels)} labels"
                          f"{f', {len(result.skipped)} skipped' if result.skipped else ''}")
