"""xeno-canto downloader against a local fake API (no internet): pages, licences, manifest, retries."""
from __future__ import annotations

import csv
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ml.data import xenocanto as xc
from ml.runtime.audio import AudioError, probe

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "fixtures" / "audio"
SHARED_MANIFEST = ROOT.parent / "shared" / "data" / "birds-pr" / "manifest.csv"
KEY = "test-key-123"
FAST = dict(delay=0.0, backoff=0.01, max_backoff=0.05, timeout=5.0)

CLIPS = {  # real fixture audio served as the "originals"
    "warbler.ogg": AUDIO / "XC173620_adelaides_warbler.ogg",
    "warbler.mp3": AUDIO / "XC173620_adelaides_warbler.mp3",
    "vireo.ogg": AUDIO / "XC370024_puerto_rican_vireo.ogg",
    "owl.ogg": AUDIO / "XC308530_puerto_rican_owl.ogg",
    "warbler.flac": AUDIO / "XC173620_adelaides_warbler.flac",
}


class FakeXenoCanto:
    """A tiny HTTP server: /api/3/recordings pages, /audio/<name> files and misbehaving routes."""

    def __init__(self):
        self.pages: dict[str, list[list[dict]]] = {}  # query -> pages of recordings
        self.hits: Counter = Counter()  # path -> number of requests
        self.queries: list[dict] = []
        self.fail_first: dict[str, int] = {}  # path -> status to answer on the first request only
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlsplit(self.path)
                fake.hits[url.path] += 1
                if url.path in fake.fail_first and fake.hits[url.path] == 1:
                    status = fake.fail_first[url.path]
                    return self._send(status, b'{"error": "slow down"}', "application/json",
                                      {"Retry-After": "0"} if status == 429 else None)
                if url.path == "/api/3/recordings":
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    fake.queries.append(q)
                    if q.get("key") != KEY:
                        return self._send(401, json.dumps({"error": "invalid key", "message": "Invalid API key"}).encode(),
                                          "application/json")
                    pages = fake.pages.get(q.get("query", ""), [[]])
                    n = int(q.get("page", "1"))
                    recs = pages[n - 1] if 1 <= n <= len(pages) else []
                    total = sum(len(p) for p in pages)
                    body = {"numRecordings": str(total), "numSpecies": "1", "page": n,
                            "numPages": len(pages), "recordings": recs}
                    return self._send(200, json.dumps(body).encode(), "application/json")
                if url.path.startswith("/audio/"):
                    name = url.path.split("/", 2)[2]
                    if name in CLIPS:
                        return self._send(200, CLIPS[name].read_bytes(), "audio/mpeg")
                    return self._send(404, b"not found", "text/plain")
                if url.path.startswith("/html/"):  # an error page served with status 200
                    return self._send(200, b"<!DOCTYPE html><html><body>Please log in</body></html>",
                                      "text/html; charset=utf-8")
                if url.path.startswith("/junk/"):  # claims to be audio, is not decodable
                    return self._send(200, b"OggS" + bytes(range(256)) * 8, "audio/ogg")
                return self._send(404, b"not found", "text/plain")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api = self.base + "/api/3/recordings"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def rec(self, xc_id: int, file: str, *, lic: str = "//creativecommons.org/licenses/by-nc-sa/4.0/",
            en: str = "Adelaide's Warbler", gen: str = "Setophaga", sp: str = "adelaidae", **extra) -> dict:
        rec = {"id": str(xc_id), "gen": gen, "sp": sp, "ssp": "", "grp": "birds", "en": en,
               "rec": "Test Recordist", "cnt": "Puerto Rico", "loc": "Guánica", "lat": "17.9779",
               "lon": "-66.8771", "type": "song", "file": f"{self.base}{file}", "lic": lic, "q": "A",
               "length": "0:06", "time": "08:15", "date": "2014-03-08", "also": ["Coereba flaveola"]}
        rec.update(extra)
        return rec


@pytest.fixture
def fake():
    server = FakeXenoCanto()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def polite() -> xc.Politeness:
    return xc.Politeness(**FAST)


def read_manifest(out: Path) -> tuple[list[str], list[dict]]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_build_query_quotes_multiword_values():
    assert (xc.build_query("Setophaga adelaidae", country="Puerto Rico", quality="A")
            == 'sp:"Setophaga adelaidae" cnt:"Puerto Rico" q:A')
    assert xc.build_query(genus="Vireo", quality=">C", sound_type="song") == 'gen:Vireo q:">C" type:song'
    with pytest.raises(ValueError):
        xc.build_query()


def test_licence_codes():
    assert xc.licence_code("//creativecommons.org/licenses/by-nc-sa/4.0/") == "by-nc-sa"
    assert xc.licence_code("https://creativecommons.org/licenses/by-nc-nd/2.5/") == "by-nc-nd"
    assert xc.licence_code("https://creativecommons.org/publicdomain/zero/1.0/") == "cc0"
    assert xc.licence_code("") is None
    assert xc.is_no_derivatives("by-nd") and xc.is_no_derivatives("by-nc-nd")
    assert not xc.is_no_derivatives("by-nc-sa")


def test_pagination_reads_every_page_with_key(fake, session):
    query = xc.build_query("Setophaga adelaidae", country="Puerto Rico")
    fake.pages[query] = [[fake.rec(1, "/audio/warbler.ogg"), fake.rec(2, "/audio/vireo.ogg")],
                         [fake.rec(3, "/audio/owl.ogg")],
                         [fake.rec(4, "/audio/warbler.mp3")]]
    ids = [r["id"] for r in xc.iter_recordings(query, KEY, session, base_url=fake.api, polite=polite())]
    assert ids == ["1", "2", "3", "4"]
    assert [q["page"] for q in fake.queries] == ["1", "2", "3"]
    assert all(q["key"] == KEY and q["query"] == query for q in fake.queries)

    fake.queries.clear()
    ids = [r["id"] for r in xc.iter_recordings(query, KEY, session, 2, base_url=fake.api, polite=polite())]
    assert ids == ["1", "2", "3"] and len(fake.queries) == 2


def test_missing_key_is_a_clear_error(fake, session, monkeypatch, capsys, tmp_path):
    with pytest.raises(xc.MissingKeyError, match=xc.KEY_ENV):
        next(xc.iter_recordings("sp:x", "", session, base_url=fake.api, polite=polite()))
    monkeypatch.delenv(xc.KEY_ENV, raising=False)
    status = xc.main(["--species", "Setophaga adelaidae", "--out", str(tmp_path), "--api-url", fake.api])
    assert status == 2
    err = capsys.readouterr().err
    assert "API key is required" in err and xc.KEY_ENV in err and "--key" in err
    assert not fake.hits  # nothing was requested


def test_invalid_key_reports_api_message_without_leaking_key(fake, session):
    with pytest.raises(xc.XenoCantoError) as info:
        list(xc.iter_recordings("sp:x", "wrong-key", session, base_url=fake.api, polite=polite()))
    assert "401" in str(info.value) and "Invalid API key" in str(info.value)
    assert "wrong-key" not in str(info.value)


def test_download_writes_audio_and_manifest_in_shared_layout(fake, session, tmp_path):
    recs = [fake.rec(101, "/audio/warbler.ogg"),
            fake.rec(102, "/audio/warbler.mp3", lon=None, lng="-66.5", lat="18.4", also=[]),
            fake.rec(103, "/audio/vireo.ogg", en="Puerto Rican Vireo", gen="Vireo", sp="latimeri",
                     lic="http://creativecommons.org/licenses/by-sa/4.0/")]
    report = xc.download(recs, tmp_path, session, polite=polite())
    assert report.downloaded == ["101", "102", "103"] and not report.failed

    header, rows = read_manifest(tmp_path)
    assert tuple(header) == xc.MANIFEST_COLUMNS
    if SHARED_MANIFEST.exists():
        with open(SHARED_MANIFEST, newline="", encoding="utf-8") as fh:
            assert header == next(csv.reader(fh))
    by_id = {r["xc_id"]: r for r in rows}
    assert [r["xc_id"] for r in rows] == ["101", "102", "103"]
    r = by_id["101"]
    assert r["file"] == "audio/XC101.ogg" and (tmp_path / r["file"]).is_file()
    assert (r["species"], r["scientific"], r["type"], r["quality"]) == (
        "Adelaide's Warbler", "Setophaga adelaidae", "song", "A")
    assert (r["lat"], r["lng"], r["date"], r["time"]) == ("17.9779", "-66.8771", "2014-03-08", "08:15")
    assert r["also"] == "Coereba flaveola" and r["recordist"] == "Test Recordist"
    assert r["license"] == "https://creativecommons.org/licenses/by-nc-sa/4.0/"
    assert r["source"] == "https://xeno-canto.org/101" and r["split"] == "dev"
    assert abs(float(r["seconds"]) - 6.0) < 0.1
    # v2-style "lng" is understood as well as v3's "lon"; the extension follows the real format
    assert by_id["102"]["lng"] == "-66.5" and by_id["102"]["file"] == "audio/XC102.mp3"
    assert by_id["102"]["also"] == ""
    assert by_id["103"]["license"] == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert by_id["103"]["scientific"] == "Vireo latimeri"
    for row in rows:  # what was written is what was served, byte for byte, and decodes
        data = (tmp_path / row["file"]).read_bytes()
        assert probe(data).duration > 5
    assert (tmp_path / "audio" / "XC101.ogg").read_bytes() == CLIPS["warbler.ogg"].read_bytes()
    assert not list(tmp_path.rglob("*.part"))


def test_no_derivatives_licences_are_skipped(fake, session, tmp_path):
    recs = [fake.rec(201, "/audio/warbler.ogg", lic="//creativecommons.org/licenses/by-nc-nd/4.0/"),
            fake.rec(202, "/audio/vireo.ogg", lic="//creativecommons.org/licenses/by-nd/2.5/"),
            fake.rec(203, "/audio/owl.ogg")]
    # even when a caller lists an ND licence as allowed, it is not downloaded
    report = xc.download(recs, tmp_path, session, {"by-nc-sa", "by-nc-nd"}, polite=polite())
    assert report.skipped_licence == ["201", "202"] and report.downloaded == ["203"]
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == ["XC203.ogg"]
    assert [r["xc_id"] for r in read_manifest(tmp_path)[1]] == ["203"]
    assert fake.hits["/audio/warbler.ogg"] == 0 and fake.hits["/audio/vireo.ogg"] == 0


def test_rerun_is_idempotent_and_keeps_other_rows(fake, session, tmp_path):
    # an existing manifest row from elsewhere must survive untouched
    other = {c: "" for c in xc.MANIFEST_COLUMNS}
    other.update(file="audio/XC999.ogg", xc_id="999", species="Bananaquit", split="val")
    manifest = xc.Manifest(tmp_path / "manifest.csv")
    manifest.upsert(other)
    manifest.save()

    recs = [fake.rec(301, "/audio/warbler.ogg"), fake.rec(302, "/audio/owl.ogg")]
    first = xc.download(recs, tmp_path, session, polite=polite())
    assert first.downloaded == ["301", "302"]
    before = (tmp_path / "manifest.csv").read_bytes()
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "audio").iterdir()}
    hits = dict(fake.hits)

    second = xc.download(recs + recs, tmp_path, session, polite=polite())
    assert second.downloaded == [] and second.existing == ["301", "302"]
    assert dict(fake.hits) == hits  # no file was fetched again
    assert (tmp_path / "manifest.csv").read_bytes() == before
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "audio").iterdir()} == mtimes
    ids = [r["xc_id"] for r in read_manifest(tmp_path)[1]]
    assert ids == ["999", "301", "302"] and len(ids) == len(set(ids))

    # updated metadata (e.g. a corrected quality rating) updates the row in place
    third = xc.download([fake.rec(301, "/audio/warbler.ogg", q="B")], tmp_path, session, polite=polite())
    assert third.existing == ["301"]
    rows = read_manifest(tmp_path)[1]
    assert [r["xc_id"] for r in rows] == ["999", "301", "302"]
    assert rows[1]["quality"] == "B" and rows[0]["split"] == "val"


def test_retries_after_429_and_5xx(fake, session, tmp_path):
    query = "sp:retry"
    fake.pages[query] = [[fake.rec(401, "/audio/warbler.flac")]]
    fake.fail_first["/api/3/recordings"] = 503
    fake.fail_first["/audio/warbler.flac"] = 429
    recs = list(xc.iter_recordings(query, KEY, session, base_url=fake.api, polite=polite()))
    assert [r["id"] for r in recs] == ["401"] and fake.hits["/api/3/recordings"] == 2
    report = xc.download(recs, tmp_path, session, polite=polite())
    assert report.downloaded == ["401"] and fake.hits["/audio/warbler.flac"] == 2
    assert read_manifest(tmp_path)[1][0]["file"] == "audio/XC401.flac"


def test_gives_up_after_retries(fake, session, tmp_path):
    fake.fail_first["/audio/warbler.ogg"] = 503
    report = xc.download([fake.rec(402, "/audio/warbler.ogg")], tmp_path, session,
                         polite=xc.Politeness(**{**FAST, "retries": 0}))
    assert report.failed and report.failed[0][0] == "402" and "503" in report.failed[0][1]
    assert not list((tmp_path / "audio").iterdir())


def test_html_or_corrupt_body_is_rejected_and_not_written(fake, session, tmp_path):
    html = requests.get(fake.base + "/html/x", timeout=5).content
    with pytest.raises(AudioError):
        probe(html)  # the runtime's own check refuses it too
    recs = [fake.rec(501, "/html/501"), fake.rec(502, "/junk/502"), fake.rec(503, "/audio/missing.ogg"),
            fake.rec(504, "/audio/owl.ogg")]
    report = xc.download(recs, tmp_path, session, polite=polite())
    reasons = dict(report.failed)
    assert reasons["501"] == "not_audio"
    assert reasons["502"] == "audio_corrupt"
    assert "404" in reasons["503"]
    assert report.downloaded == ["504"]
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == ["XC504.ogg"]
    assert [r["xc_id"] for r in read_manifest(tmp_path)[1]] == ["504"]
    assert not list(tmp_path.rglob("*.part"))


def test_validate_audio_uses_runtime_probe():
    with pytest.raises(AudioError) as info:
        xc.validate_audio(b"<html>nope</html>", "application/octet-stream")
    assert info.value.code == "audio_unsupported_format"
    info = xc.validate_audio(CLIPS["warbler.mp3"].read_bytes(), "audio/mpeg")
    assert info.format == "mp3" and info.sample_rate == 48000


def test_main_end_to_end(fake, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(xc.KEY_ENV, KEY)
    q1 = xc.build_query("Setophaga adelaidae", country="Puerto Rico", quality="A")
    q2 = xc.build_query("Vireo latimeri", country="Puerto Rico", quality="A")
    fake.pages[q1] = [[fake.rec(601, "/audio/warbler.ogg", lic="//creativecommons.org/licenses/by-nc-nd/4.0/"),
                       fake.rec(602, "/audio/warbler.mp3")],
                      [fake.rec(603, "/audio/warbler.flac"), fake.rec(604, "/audio/owl.ogg")]]
    fake.pages[q2] = [[fake.rec(611, "/audio/vireo.ogg", en="Puerto Rican Vireo", gen="Vireo", sp="latimeri")]]
    argv = ["--species", "Setophaga adelaidae", "--species", "Vireo latimeri", "--country", "Puerto Rico",
            "--quality", "A", "--max-per-species", "2", "--out", str(tmp_path), "--api-url", fake.api,
            "--delay", "0"]
    assert xc.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["species"] == "Setophaga adelaidae" and lines[0]["downloaded"] == 2
    assert lines[-1]["downloaded"] == 3
    rows = read_manifest(tmp_path)[1]
    assert [(r["xc_id"], r["species"]) for r in rows] == [
        ("602", "Adelaide's Warbler"), ("603", "Adelaide's Warbler"), ("611", "Puerto Rican Vireo")]
    assert fake.hits["/audio/owl.ogg"] == 0  # the species limit stopped before it

    assert xc.main(argv) == 0  # second run: nothing new
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["downloaded"] == 0 and lines[-1]["existing"] == 3
    assert len(read_manifest(tmp_path)[1]) == 3
