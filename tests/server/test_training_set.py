"""``manage.py export_training_set``: a manifest the ml reader accepts, tag-free audio, refusals that write nothing."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import soundfile as sf
from django.core.management import CommandError, call_command

from server.observations.models import Observation
from server.recordings import storage
from server.recordings.training_set import MANIFEST_COLUMNS

from .conftest import client_for
from .game.helpers import accept

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
SECRET = "SECRET-RECORDIST-TAG"


@dataclass(frozen=True)
class Upload:
    data: bytes
    label: str


def tagged_flac(clip) -> bytes:
    """The clip as FLAC whose container carries a title and an artist tag."""
    samples, sr = sf.read(io.BytesIO(clip.data), dtype="float32")
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", samplerate=sr, channels=1 if samples.ndim == 1 else samples.shape[1],
                      format="FLAC", subtype="PCM_16") as fh:
        fh.title, fh.artist = SECRET, SECRET
        fh.write(samples)
    return buf.getvalue()


def read_with_ml(manifest: Path) -> list[tuple[Path, str]]:
    """(audio path, label) per row as the ml package reads the manifest (ml/manifest.py, else ml/cli.py's reader)."""
    try:
        from ml.manifest import read_manifest
    except ImportError:
        from ml.cli import read_manifest as cli_reader

        rows, column = cli_reader(manifest, None)
        return [(manifest.parent / r["file"], r[column]) for r in rows]
    return [(r.path, r.label) for r in read_manifest(manifest).rows]


@pytest.fixture
def labelled(catalogue, player, researcher, clips):
    warbler = next(c for c in clips if c.path.name == "XC173620_adelaides_warbler_24k.wav")
    dog = next(c for c in clips if c.label == "dog_bark")
    bullfinch = next(c for c in clips if c.label == "Puerto Rican Bullfinch")
    tagged = accept(player, Upload(tagged_flac(warbler), warbler.label))
    sensitive = accept(player, bullfinch, label="Puerto Rican Amazon", lat=18.31234, lng=-65.78765)
    reviewed = accept(player, bullfinch, lat=18.25)
    city = accept(player, dog)
    unsure = accept(player, dog, lat=18.26)   # needs ID: not training data
    Observation.objects.filter(pk__in=[tagged.pk, sensitive.pk, city.pk]).update(status="research")
    response = client_for(researcher).post("/api/v1/review/labels/", {"observation": reviewed.pk,
                                                                      "species": "Bananaquit"}, format="json")
    assert response.status_code == 201
    return {"tagged": tagged, "sensitive": sensitive, "reviewed": reviewed, "city": city, "unsure": unsure}


@pytest.fixture
def exports(tmp_path) -> Path:
    """An empty folder for export folders (tmp_path also holds the media root)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def read_rows(manifest: Path) -> tuple[list[str], list[dict]]:
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def test_exports_research_and_reviewed_recordings(labelled, exports):
    out = exports / "set"
    call_command("export_training_set", out=out, stdout=io.StringIO())
    columns, rows = read_rows(out / "manifest.csv")
    assert columns == MANIFEST_COLUMNS
    by_obs = {int(r["observation_id"]): r for r in rows}
    expected = {labelled[k].pk for k in ("tagged", "sensitive", "reviewed", "city")}
    assert set(by_obs) == expected
    assert by_obs[labelled["reviewed"].pk]["label"] == "Bananaquit"
    assert by_obs[labelled["reviewed"].pk]["grade"] == "reviewed"
    assert by_obs[labelled["tagged"].pk]["grade"] == "research"
    assert by_obs[labelled["city"].pk]["kind"] == "urban"
    true = by_obs[labelled["sensitive"].pk]   # a researcher/admin tool: the true point, also when sensitive
    assert (float(true["lat"]), float(true["lng"])) == (pytest.approx(18.31234), pytest.approx(-65.78765))
    assert labelled["sensitive"].obscured
    row = by_obs[labelled["tagged"].pk]
    assert row["recordist"] == "robin" and row["licence"].startswith("https://creativecommons.org/")
    assert row["date"] == labelled["tagged"].observed_at.date().isoformat()
    assert row["recording_id"] == str(labelled["tagged"].recording_id)
    for r in rows:
        info = sf.info(str(out / r["file"]))
        assert info.format == "FLAC" and info.duration == pytest.approx(3.0, abs=0.01)   # the marked segment
    stored = storage.read_blob(labelled["tagged"].recording.audio_path)
    exported = (out / row["file"]).read_bytes()
    assert SECRET.encode() in stored and SECRET.encode() not in exported
    with sf.SoundFile(str(out / row["file"])) as fh:
        assert fh.title == "" and fh.artist == ""
    read = read_with_ml(out / "manifest.csv")
    assert sorted(label for _, label in read) == sorted(r["label"] for r in rows)
    assert all(path.is_file() for path, _ in read)
    assert sorted(out.parent.iterdir()) == [out], "no staging folder left behind"


def test_grade_and_kind_select(labelled, exports):
    call_command("export_training_set", out=exports / "reviewed", grade=["reviewed"], stdout=io.StringIO())
    assert [r["label"] for r in read_rows(exports / "reviewed" / "manifest.csv")[1]] == ["Bananaquit"]
    err = io.StringIO()
    call_command("export_training_set", out=exports / "urban", kind="urban", stdout=io.StringIO(), stderr=err)
    assert [r["label"] for r in read_rows(exports / "urban" / "manifest.csv")[1]] == ["dog_bark"]
    assert "one label only" in err.getvalue()


def test_an_unreadable_recording_is_reported_and_skipped(labelled, exports):
    storage.delete_blob(labelled["city"].recording.audio_path)
    err = io.StringIO()
    call_command("export_training_set", out=exports / "set", stdout=io.StringIO(), stderr=err)
    assert f"skipped recording {labelled['city'].recording_id}" in err.getvalue()
    rows = read_rows(exports / "set" / "manifest.csv")[1]
    assert len(rows) == 3 and "dog_bark" not in {r["label"] for r in rows}


@pytest.mark.parametrize("options, message", [
    ({"grade": ["gold"]}, "Unknown grade 'gold'"),
    ({"grade": ["research", "casual"]}, "Unknown grade 'casual'"),
    ({"kind": "frog"}, "Unknown kind 'frog'"),
    ({"grade": ["reviewed"], "kind": "urban"}, "nothing was written"),
])
def test_bad_requests_exit_2_and_write_nothing(labelled, exports, options, message):
    with pytest.raises(CommandError, match=message) as caught:
        call_command("export_training_set", out=exports / "set", **options)
    assert caught.value.returncode == 2
    assert list(exports.iterdir()) == []


def test_an_empty_database_is_an_empty_selection(catalogue, exports):
    with pytest.raises(CommandError, match="No recordings are research or reviewed") as caught:
        call_command("export_training_set", out=exports / "set")
    assert caught.value.returncode == 2 and list(exports.iterdir()) == []


def test_an_out_folder_in_the_way_is_refused(labelled, exports):
    (exports / "set").mkdir()
    (exports / "set" / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not an empty folder") as caught:
        call_command("export_training_set", out=exports / "set")
    assert caught.value.returncode == 2 and [p.name for p in (exports / "set").iterdir()] == ["keep.txt"]


def test_the_command_line_exits_with_status_2(exports):
    done = subprocess.run([sys.executable, "manage.py", "export_training_set", "--out", str(exports / "set"),
                           "--grade", "gold"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Unknown grade 'gold'" in done.stderr
    assert list(exports.iterdir()) == []


def test_a_label_above_species_rank_is_no_training_class(labelled, exports):
    """A research-grade record whose species was set to a genus (or "unknown bird") trains no class."""
    from server.species.models import Species

    Observation.objects.filter(pk=labelled["tagged"].pk).update(species=Species.objects.get(label="Setophaga"))
    call_command("export_training_set", out=exports / "set", stdout=io.StringIO())
    labels = {int(r["observation_id"]): r["label"] for r in read_rows(exports / "set" / "manifest.csv")[1]}
    assert labelled["tagged"].pk not in labels and "Setophaga" not in labels.values()
    assert labelled["city"].pk in labels
