"""Download recordings and their metadata from the xeno-canto API v3 into a training manifest.

The output folder gets ``audio/XC{id}.{ext}`` files and a ``manifest.csv`` in exactly the column
layout of ``shared/data/birds-pr/manifest.csv`` (see :data:`MANIFEST_COLUMNS`), so the training
code reads both the same way. Re-running is harmless: files already present are not fetched
again and the manifest is keyed by xeno-canto id (rows are updated, never duplicated).

Being a polite client: at most one request per ``delay`` seconds, retries with exponential
backoff (honouring ``Retry-After``) on 429 and 5xx, and a descriptive User-Agent. Recordings
under a no-derivatives (ND) licence are never downloaded: training cuts and transforms audio.

API v3 needs a key (``XENO_CANTO_API_KEY`` or ``--key``); every registered xeno-canto member
with a verified e-mail address has one on their account page. The key is never logged.

Command line (the lead wires it as ``python -m ml fetch-xc``)::

    python -m ml.data.xenocanto --species "Setophaga adelaidae" --species "Vireo latimeri" \\
        --country "Puerto Rico" --quality A --max-per-species 20 --out var/xeno-canto
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import requests

from ml.runtime.audio import AudioError, AudioInfo, probe
from ml.runtime.files import atomic_write

log = logging.getLogger(__name__)

API_URL = "https://xeno-canto.org/api/3/recordings"
KEY_ENV = "XENO_CANTO_API_KEY"
API_URL_ENV = "XENO_CANTO_API_URL"
USER_AGENT = "dawn-chorus/0.1 (citizen-science city bird sound game; xeno-canto fetcher; python-requests)"
SOURCE_URL = "https://xeno-canto.org/{id}"

MANIFEST_NAME = "manifest.csv"
AUDIO_DIR = "audio"
MANIFEST_COLUMNS = ("file", "xc_id", "species", "scientific", "type", "quality", "lat", "lng", "date",
                    "time", "seconds", "also", "recordist", "license", "source", "split")

# Creative Commons licence families we may cut and transform for training (never ND ones).
DEFAULT_LICENCES = frozenset({"by", "by-sa", "by-nc", "by-nc-sa", "cc0"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
MAX_RECORDING_SECONDS = 6 * 3600.0
MISSING_KEY_MESSAGE = (f"a xeno-canto API key is required (API v3): set the {KEY_ENV} environment "
                       "variable or pass --key; registered members find theirs at "
                       "https://xeno-canto.org/account")


class XenoCantoError(RuntimeError):
    """The API or a download failed in a way that retrying will not fix."""


class MissingKeyError(XenoCantoError):
    """No API key was given."""


@dataclass
class Politeness:
    """Request pacing and retry policy shared by API and file requests."""

    delay: float = 1.0  # minimum seconds between the starts of two requests
    retries: int = 5  # extra attempts after a 429/5xx or a connection error
    backoff: float = 2.0  # first wait in seconds; doubles on every retry
    max_backoff: float = 120.0
    timeout: float = 60.0  # seconds, per connect/read
    _last: float = field(default=float("-inf"), repr=False)

    def pause(self) -> None:
        wait = self._last + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()

    def wait_before_retry(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based), honouring a Retry-After header."""
        wait = self.backoff * (2 ** attempt)
        if retry_after:
            try:
                wait = float(retry_after)
            except ValueError:
                try:
                    wait = parsedate_to_datetime(retry_after).timestamp() - time.time()
                except (TypeError, ValueError):
                    pass
        return min(max(wait, 0.0), self.max_backoff)


@dataclass
class DownloadReport:
    downloaded: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    skipped_licence: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (xc id, reason)

    def to_dict(self) -> dict:
        return {"downloaded": len(self.downloaded), "existing": len(self.existing),
                "skipped_licence": len(self.skipped_licence), "failed": len(self.failed),
                "failures": [{"xc_id": i, "reason": r} for i, r in self.failed]}

    def merge(self, other: "DownloadReport") -> None:
        self.downloaded += other.downloaded
        self.existing += other.existing
        self.skipped_licence += other.skipped_licence
        self.failed += other.failed


# --- queries and metadata ---------------------------------------------------------------------

def _tag(name: str, value: str) -> str:
    value = str(value).strip().strip('"').strip()
    if not value:
        raise ValueError(f"empty value for search tag {name!r}")
    if re.fullmatch(r"[A-Za-z0-9_.]+", value):
        return f"{name}:{value}"
    return f'{name}:"{value}"'


def build_query(species: str | None = None, *, genus: str | None = None, english: str | None = None,
                country: str | None = None, quality: str | None = None, sound_type: str | None = None,
                extra: Sequence[str] = ()) -> str:
    """A v3 search string from tags, e.g. ``sp:"Setophaga adelaidae" cnt:"Puerto Rico" q:A``.

    ``species`` is the scientific name ("Genus species"); ``quality`` a rating ("A") or a
    comparison (">C"); ``extra`` holds ready-made tags passed through unchanged.
    """
    parts = []
    for name, value in (("gen", genus), ("sp", species), ("en", english), ("cnt", country),
                        ("q", quality), ("type", sound_type)):
        if value is not None and str(value).strip():
            parts.append(_tag(name, value))
    parts.extend(t.strip() for t in extra if t.strip())
    if not parts:
        raise ValueError("a query needs at least one search tag")
    return " ".join(parts)


def normalise_url(url: str | None) -> str:
    """Absolute https URL from xeno-canto's protocol-relative or http links ('' stays '')."""
    url = (url or "").strip()
    if url.startswith("//"):
        return "https:" + url
    if url.startswith("http://") and ("creativecommons.org" in url or "xeno-canto.org" in url):
        return "https://" + url[len("http://"):]
    return url


def licence_code(url: str | None) -> str | None:
    """Creative Commons family of a licence URL ("by-nc-sa", "cc0", ...), None when unknown."""
    url = (url or "").lower()
    match = re.search(r"creativecommons\.org/licenses/([a-z-]+)/", url)
    if match:
        return match.group(1)
    if re.search(r"creativecommons\.org/publicdomain/zero/", url):
        return "cc0"
    return None


def is_no_derivatives(code: str | None) -> bool:
    return code is not None and "nd" in code.split("-")


def _seconds_from_length(length: str | None) -> float | None:
    """'1:23' or '1:02:03' (xeno-canto's ``length``) in seconds."""
    try:
        parts = [float(p) for p in str(length or "").strip().split(":")]
    except ValueError:
        return None
    if not parts or len(parts) > 3:
        return None
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def manifest_row(rec: Mapping, file: str, seconds: float | None, split: str = "dev") -> dict[str, str]:
    """One manifest row (all strings) for API recording ``rec`` stored at ``file``."""
    xc_id = _text(rec.get("id"))
    also = rec.get("also") or []
    if isinstance(also, str):
        also = [also]
    lng = rec.get("lon") if rec.get("lon") not in (None, "") else rec.get("lng")
    return {
        "file": file,
        "xc_id": xc_id,
        "species": _text(rec.get("en")),
        "scientific": " ".join(p for p in (_text(rec.get("gen")), _text(rec.get("sp"))) if p),
        "type": _text(rec.get("type")),
        "quality": _text(rec.get("q")),
        "lat": _text(rec.get("lat")),
        "lng": _text(lng),
        "date": _text(rec.get("date")),
        "time": _text(rec.get("time")),
        "seconds": "" if seconds is None else str(round(float(seconds), 2)),
        "also": "; ".join(_text(a) for a in also if _text(a)),
        "recordist": _text(rec.get("rec")),
        "license": normalise_url(_text(rec.get("lic"))),
        "source": SOURCE_URL.format(id=xc_id),
        "split": split,
    }


# --- HTTP ---------------------------------------------------------------------------------------

def _redact(text: str) -> str:
    return re.sub(r"(key=)[^&\s'\"]+", r"\1***", str(text))


def _request(session: requests.Session, url: str, polite: Politeness, *, params: Mapping | None = None,
             stream: bool = False) -> requests.Response:
    """GET with pacing and retries; returns the last response (possibly still an error status)."""
    for attempt in range(polite.retries + 1):
        polite.pause()
        try:
            resp = session.get(url, params=params, timeout=polite.timeout, stream=stream,
                               headers={"User-Agent": USER_AGENT})
        except (requests.ConnectionError, requests.Timeout) as exc:
            if attempt == polite.retries:
                raise XenoCantoError(f"{_redact(url)}: {type(exc).__name__} after "
                                     f"{polite.retries + 1} attempts") from None
            wait = polite.wait_before_retry(attempt, None)
            log.warning("%s: %s; retrying in %.1f s", _redact(url), type(exc).__name__, wait)
            time.sleep(wait)
            continue
        if resp.status_code in RETRY_STATUSES and attempt < polite.retries:
            wait = polite.wait_before_retry(attempt, resp.headers.get("Retry-After"))
            log.warning("%s: HTTP %d; retrying in %.1f s", _redact(resp.url or url), resp.status_code, wait)
            resp.close()
            time.sleep(wait)
            continue
        return resp
    raise AssertionError("unreachable")


def _api_error(resp: requests.Response) -> XenoCantoError:
    detail = ""
    try:
        payload = resp.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        err = payload.get("error", payload)
        if isinstance(err, dict):
            detail = _text(err.get("message") or err.get("code"))
        else:
            detail = _text(payload.get("message") or err)
    if not detail:
        detail = resp.reason or ""
    return XenoCantoError(_redact(f"xeno-canto API answered HTTP {resp.status_code}: {detail}".strip()))


def iter_recordings(query: str, key: str | None, session: requests.Session, max_pages: int | None = None,
                    *, base_url: str | None = None, per_page: int | None = None,
                    polite: Politeness | None = None) -> Iterator[dict]:
    """Yield the recording objects of every result page of ``query`` (lazily, page by page)."""
    if not key:
        raise MissingKeyError(MISSING_KEY_MESSAGE)
    base_url = base_url or os.environ.get(API_URL_ENV) or API_URL
    polite = polite or Politeness()
    page = 1
    while True:
        params = {"query": query, "key": key, "page": page}
        if per_page:
            params["per_page"] = int(per_page)
        resp = _request(session, base_url, polite, params=params)
        if resp.status_code != 200:
            raise _api_error(resp)
        try:
            payload = resp.json()
        except ValueError:
            raise XenoCantoError(f"xeno-canto API page {page} is not JSON") from None
        if not isinstance(payload, dict) or "error" in payload and "recordings" not in payload:
            raise _api_error(resp)
        recordings = payload.get("recordings") or []
        if page == 1:
            log.info("query %s: %s recordings on %s pages", query, payload.get("numRecordings"),
                     payload.get("numPages"))
        yield from recordings
        try:
            num_pages = int(payload.get("numPages") or 1)
        except (TypeError, ValueError):
            num_pages = 1
        if not recordings or page >= num_pages or (max_pages and page >= max_pages):
            return
        page += 1


# --- files and manifest -------------------------------------------------------------------------

class Manifest:
    """The output manifest, keyed by xeno-canto id, written atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: dict[str, dict[str, str]] = {}
        if self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
                    raise XenoCantoError(f"{self.path} has columns {reader.fieldnames}, "
                                         f"expected {list(MANIFEST_COLUMNS)}")
                for row in reader:
                    self.rows[row["xc_id"]] = {c: row.get(c) or "" for c in MANIFEST_COLUMNS}

    def __contains__(self, xc_id: str) -> bool:
        return xc_id in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def upsert(self, row: Mapping[str, str]) -> bool:
        """Insert or replace the row of ``row['xc_id']``; True when something changed."""
        row = {c: _text(row.get(c)) for c in MANIFEST_COLUMNS}
        if self.rows.get(row["xc_id"]) == row:
            return False
        self.rows[row["xc_id"]] = row
        return True

    def save(self) -> None:
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows.values())
        atomic_write(self.path, buf.getvalue().encode("utf-8"))


def _existing_audio(audio_dir: Path, xc_id: str) -> Path | None:
    for ext in ("mp3", "wav", "flac", "ogg"):
        path = audio_dir / f"XC{xc_id}.{ext}"
        if path.is_file() and path.stat().st_size > 0:
            return path
    return None


def _file_seconds(path: Path) -> float | None:
    try:
        import soundfile as sf

        info = sf.info(str(path))
        return info.frames / info.samplerate if info.frames > 0 and info.samplerate else None
    except Exception:  # unreadable header: fall back to the API's length
        return None


def _fetch_bytes(session: requests.Session, url: str, polite: Politeness, max_bytes: int) -> tuple[bytes, str]:
    resp = _request(session, url, polite, stream=True)
    try:
        if resp.status_code != 200:
            raise XenoCantoError(f"download answered HTTP {resp.status_code}")
        chunks, size = [], 0
        for chunk in resp.iter_content(chunk_size=1 << 16):
            size += len(chunk)
            if size > max_bytes:
                raise AudioError("audio_too_large", f"the file exceeds {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks), resp.headers.get("Content-Type", "")
    except requests.RequestException as exc:
        raise XenoCantoError(f"download interrupted: {type(exc).__name__}") from None
    finally:
        resp.close()


def validate_audio(data: bytes, content_type: str = "", max_bytes: int = MAX_DOWNLOAD_BYTES) -> AudioInfo:
    """Header check of downloaded bytes; AudioError for error pages, HTML and corrupt files."""
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith("text/") or kind in ("application/json", "application/xhtml+xml"):
        raise AudioError("not_audio", f"the server sent {kind}, not audio")
    return probe(data, max_bytes=max_bytes, max_seconds=MAX_RECORDING_SECONDS)


def download(recordings: Iterable[Mapping], out_dir: str | os.PathLike, session: requests.Session,
             licences_allowed: Iterable[str] = DEFAULT_LICENCES, *, polite: Politeness | None = None,
             split: str = "dev", max_bytes: int = MAX_DOWNLOAD_BYTES) -> DownloadReport:
    """Fetch ``recordings`` (API objects) into ``out_dir/audio`` and upsert ``out_dir/manifest.csv``.

    Skips licences outside ``licences_allowed`` (no-derivatives ones always), files already
    present, and bodies that are not readable audio (nothing is written for those). The
    manifest is saved after every change, so an interrupted run keeps what it fetched.
    """
    polite = polite or Politeness()
    out = Path(out_dir)
    audio_dir = out / AUDIO_DIR
    audio_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out / MANIFEST_NAME)
    allowed = {c.lower() for c in licences_allowed if not is_no_derivatives(c.lower())}
    report = DownloadReport()
    seen: set[str] = set()
    for rec in recordings:
        xc_id = _text(rec.get("id"))
        if not xc_id.isdigit():
            report.failed.append((xc_id, "bad_id"))
            continue
        if xc_id in seen:
            continue
        seen.add(xc_id)
        code = licence_code(rec.get("lic"))
        if code not in allowed:
            log.info("XC%s: licence %s not allowed; skipped", xc_id, rec.get("lic") or "(none)")
            report.skipped_licence.append(xc_id)
            continue
        existing = _existing_audio(audio_dir, xc_id)
        if existing is not None:
            seconds = _file_seconds(existing) or _seconds_from_length(rec.get("length"))
            row = manifest_row(rec, existing.relative_to(out).as_posix(), seconds, split)
            if xc_id in manifest:
                row["split"] = manifest.rows[xc_id]["split"] or split  # keep an assigned split
            if manifest.upsert(row):
                manifest.save()
            report.existing.append(xc_id)
            continue
        url = normalise_url(rec.get("file"))
        if not url:
            report.failed.append((xc_id, "no_file_url"))
            continue
        try:
            data, content_type = _fetch_bytes(session, url, polite, max_bytes)
            info = validate_audio(data, content_type, max_bytes)
        except AudioError as exc:
            log.warning("XC%s: rejected (%s: %s)", xc_id, exc.code, exc.message)
            report.failed.append((xc_id, exc.code))
            continue
        except XenoCantoError as exc:
            log.warning("XC%s: %s", xc_id, exc)
            report.failed.append((xc_id, str(exc)))
            continue
        path = audio_dir / f"XC{xc_id}.{info.format}"
        atomic_write(path, data)
        if manifest.upsert(manifest_row(rec, path.relative_to(out).as_posix(), info.duration, split)):
            manifest.save()
        log.info("XC%s: %s, %.1f s, %d bytes", xc_id, info.format, info.duration, len(data))
        report.downloaded.append(xc_id)
    return report


# --- command line -------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ml fetch-xc",
        description="Download xeno-canto recordings (API v3) into audio/ and manifest.csv.")
    parser.add_argument("--species", action="append", required=True, metavar="SCIENTIFIC_NAME",
                        help='scientific name, e.g. "Setophaga adelaidae" (repeatable)')
    parser.add_argument("--country", help='country, e.g. "Puerto Rico"')
    parser.add_argument("--quality", help='quality rating "A".."E", or a comparison such as ">C"')
    parser.add_argument("--type", dest="sound_type", help='sound type, e.g. "song" or "call"')
    parser.add_argument("--max-per-species", type=int, default=50,
                        help="recordings to keep per species (default 50)")
    parser.add_argument("--max-pages", type=int, default=None, help="result pages to read per species")
    parser.add_argument("--out", type=Path, default=Path("var/xeno-canto"),
                        help="output folder (default var/xeno-canto)")
    parser.add_argument("--key", default=None, help=f"API key (default: ${KEY_ENV})")
    parser.add_argument("--api-url", default=None, help=f"API endpoint (default: ${API_URL_ENV} or {API_URL})")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds between requests (default 1)")
    parser.add_argument("--split", default="dev", help='value of the manifest "split" column (default dev)')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status (0 ok, 1 some failures, 2 usage error)."""
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    key = args.key or os.environ.get(KEY_ENV, "")
    if not key.strip():
        print(f"fetch-xc: error: {MISSING_KEY_MESSAGE}", file=sys.stderr)
        return 2
    if args.max_per_species < 1:
        print("fetch-xc: error: --max-per-species must be at least 1", file=sys.stderr)
        return 2
    polite = Politeness(delay=max(args.delay, 0.0))
    total = DownloadReport()
    with requests.Session() as session:
        session.headers["User-Agent"] = USER_AGENT
        for species in args.species:
            try:
                query = build_query(species, country=args.country, quality=args.quality,
                                    sound_type=args.sound_type)
                picks = []
                for rec in iter_recordings(query, key.strip(), session, args.max_pages,
                                           base_url=args.api_url, polite=polite):
                    code = licence_code(rec.get("lic"))
                    if code in DEFAULT_LICENCES:
                        picks.append(rec)
                    if len(picks) >= args.max_per_species:
                        break
                if not picks:
                    log.warning("%s: no recordings with a usable licence", query)
                report = download(picks, args.out, session, polite=polite, split=args.split)
            except XenoCantoError as exc:
                print(f"fetch-xc: error: {species}: {exc}", file=sys.stderr)
                return 1
            print(json.dumps({"species": species, "query": query, **report.to_dict()}), flush=True)
            total.merge(report)
    print(json.dumps({"out": str(args.out), **{k: v for k, v in total.to_dict().items() if k != "failures"}}))
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
