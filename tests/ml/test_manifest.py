"""ml.manifest: the one manifest reader of evaluate, train, cv and bench-classifier."""
from __future__ import annotations

import ast
import csv
from pathlib import Path

import pytest

from ml.manifest import Manifest, ManifestError, ManifestRow, missing_files, read_manifest, read_manifests

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "audio" / "manifest.csv"


def _write(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_fixture_manifest_gives_typed_rows_grouped_by_recording():
    table = read_manifest(FIXTURES)
    assert isinstance(table, Manifest) and table.label_column == "label"
    assert all(isinstance(r, ManifestRow) for r in table.rows) and len(table.rows) == 22
    warbler = [r for r in table.rows if r.file.startswith("XC173620_")]
    # the four format variants of one xeno-canto recording share its id, so no fold can split them
    assert len(warbler) == 4 and {r.recording for r in warbler} == {"XC173620"}
    assert {r.recordist for r in warbler} == {"Eric DeFonso"}
    assert all(r.path == FIXTURES.parent / r.file and r.path.is_file() for r in table.rows)
    assert warbler[0].meta["kind"] == "bird" and "Adelaide's Warbler" in table.labels
    assert missing_files(table.rows) == []


def test_recording_id_falls_back_to_the_file_and_label_column_is_chosen(tmp_path):
    path = _write(tmp_path / "m.csv", [["file", "species", "label"], ["a.ogg", "A", "x"], ["b.ogg", "B", "y"],
                                       ["", "C", "z"], ["c.ogg", "", "w"]])
    table = read_manifest(path)
    assert table.label_column == "species" and [r.label for r in table.rows] == ["A", "B"]
    assert [r.recording for r in table.rows] == ["a.ogg", "b.ogg"] and table.rows[0].recordist == ""
    assert [r.label for r in read_manifest(path, "label").rows] == ["x", "y", "w"]
    assert [r.file for r in missing_files(table.rows)] == ["a.ogg", "b.ogg"]


@pytest.mark.parametrize("rows,label_column,message", [
    (None, None, "does not exist"),
    ([["name", "species"], ["a.ogg", "A"]], None, "no 'file' column"),
    ([["file", "kind"], ["a.ogg", "A"]], None, "no label column ('species' or 'label')"),
    ([["file", "species"], ["a.ogg", "A"]], "genus", "no label column 'genus'"),
    ([["file", "species"]], None, "lists no labelled files"),
    ([["file", "species"], ["a.ogg", ""]], None, "lists no labelled files"),
    ([["file", "species"], ["a.ogg", "A"], ["b.ogg", "A"]], None, "single label class"),
])
def test_bad_manifests_are_refused_with_a_message(tmp_path, rows, label_column, message):
    path = tmp_path / "m.csv"
    if rows is not None:
        _write(path, rows)
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_manifest(path, label_column)


def test_undecodable_text_is_a_manifest_error(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"file,species\n\xff\xfe\xfa,A\n")
    with pytest.raises(ManifestError, match="cannot be read"):
        read_manifest(path)


def test_several_manifests_join_and_the_class_count_applies_to_the_union(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = _write(tmp_path / "a" / "m.csv", [["file", "species", "xc_id"], ["x.ogg", "A", "1"]])
    two = _write(tmp_path / "b" / "m.csv", [["file", "label", "recordist"], ["y.ogg", "B", "Ann"]])
    with pytest.raises(ManifestError, match="single label class"):
        read_manifest(one)
    table = read_manifests([one, two])
    assert [(r.label, r.recording, r.recordist) for r in table.rows] == [("A", "1", ""), ("B", "y.ogg", "Ann")]
    assert table.rows[1].path == tmp_path / "b" / "y.ogg" and table.labels == ["A", "B"]
    with pytest.raises(ManifestError, match="single label class"):
        read_manifests([one, one])
    with pytest.raises(ManifestError, match="No manifest"):
        read_manifests([])


def test_cli_and_train_share_the_reader_and_nothing_in_ml_imports_the_cli():
    """One reader (ml.manifest), and no module of ml/ imports ml.cli (bench took cli's private _one_thread)."""
    for path in sorted((ROOT / "ml").rglob("*.py")):
        if path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "ml.cli", f"{path.relative_to(ROOT)} imports ml.cli"
            elif isinstance(node, ast.Import):
                assert all(a.name != "ml.cli" for a in node.names), f"{path.relative_to(ROOT)} imports ml.cli"
            if isinstance(node, ast.FunctionDef) and path.name in ("cli.py", "train.py", "baseline.py"):
                assert node.name != "read_manifest", f"{path.name} has its own manifest reader"
