"""The on-device model and species pack: download, verify (sha256 and size), install atomically.

A download whose hash or size does not match, or that does not load as a runtime model, is
discarded with :class:`ModelDownloadError` and the previous model stays in use.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ml.runtime.classifier import DEFAULT_MODEL_PATH, Classifier, load_classifier
from ml.runtime.files import atomic_write
from ml.runtime.model_format import ModelFormatError
from ml.runtime.prior import SpeciesPrior

from .api import ApiClient, ApiError, same_origin_path

MODEL_SET = "field"  # the server's one model set (servers before issue 25 named it birds)
MAX_MODEL_BYTES = 64 * 1024 * 1024
PRIOR_PAGE_SIZE = 1000   # the observation list's largest page
PRIOR_MAX_PAGES = 5
BUNDLED_SPECIES = Path(__file__).resolve().parents[1] / "fixtures" / "species.json"


class ModelDownloadError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Region:
    key: str
    name: str
    bbox: tuple[float, float, float, float]  # west, south, east, north
    center: tuple[float, float]  # lat, lng


REGIONS = (
    Region("pr", "Puerto Rico", (-67.95, 17.85, -65.2, 18.55), (18.2960, -65.7850)),
)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ModelStore:
    """Files under ``directory``: ``models/<sha256>.npz``, ``model.json`` (the installed one), ``species.json``."""

    def __init__(self, directory: str | Path, fallback_model: Path = DEFAULT_MODEL_PATH):
        self.dir = Path(directory)
        (self.dir / "models").mkdir(parents=True, exist_ok=True)
        self.fallback_model = Path(fallback_model)

    @property
    def installed(self) -> dict | None:
        try:
            return json.loads((self.dir / "model.json").read_text())
        except (OSError, ValueError):
            return None

    def model_path(self) -> Path:
        """The installed model if its file is intact, else the model shipped with the app."""
        info = self.installed
        if info:
            path = self.dir / "models" / f"{info['sha256']}.npz"
            if path.exists():
                return path
        return self.fallback_model

    def classifier(self) -> Classifier:
        try:
            return load_classifier(self.model_path())
        except ModelFormatError:
            return load_classifier(self.fallback_model)

    def update_model(self, api: ApiClient) -> dict:
        """Fetch the server's current model (the field model) when it differs from ours; returns its description."""
        try:
            current = api.get_json("/api/v1/models/current/", params={"set": MODEL_SET})
        except ApiError as exc:
            if exc.status == 404:
                raise ModelDownloadError("no_model", "The server has no model to download yet; "
                                         "the model shipped with the app is used.") from None
            raise
        try:
            sha, size, url = str(current["sha256"]).lower(), int(current["size_bytes"]), str(current["download_url"])
        except (KeyError, TypeError, ValueError):
            raise ModelDownloadError("bad_model_info", "The server described the model incompletely.") from None
        if len(sha) != 64 or not 0 < size <= MAX_MODEL_BYTES:
            raise ModelDownloadError("bad_model_info", "The server described the model incompletely.")
        info = self.installed
        if info and info.get("sha256") == sha and (self.dir / "models" / f"{sha}.npz").exists():
            return info
        self._download_verified(api, url, sha, size)
        record = {"version": current.get("version", ""), "sha256": sha, "size_bytes": size,
                  "model_set": MODEL_SET}
        atomic_write(self.dir / "model.json", json.dumps(record).encode())
        self._prune(keep=sha)
        return record

    def _download_verified(self, api: ApiClient, url: str, sha: str, size: int) -> Path:
        """``models/<sha>.npz`` after checking size, sha256 and that it loads; the old model stays otherwise."""
        target = self.dir / "models" / f"{sha}.npz"
        if target.exists() and sha256_of(target) == sha:
            return target
        data = self._fetch(api, url, size)
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != size or digest != sha:
            raise ModelDownloadError("model_corrupt", "The downloaded model is damaged (its checksum does not "
                                     "match). The previous model stays in use; try again later.")
        atomic_write(target, data)
        try:
            load_classifier(target)
        except ModelFormatError as exc:
            target.unlink(missing_ok=True)
            raise ModelDownloadError("model_corrupt", f"The downloaded model cannot be used ({exc}). "
                                     "The previous model stays in use.") from None
        return target

    def classifier_for(self, api: ApiClient, info: dict) -> Classifier:
        """The classifier of a named version ``{version, sha256, size_bytes, download_url}`` (a federated
        round's model), downloaded and hash-checked when needed; the installed model is not changed."""
        try:
            sha, size, url = str(info["sha256"]).lower(), int(info["size_bytes"]), str(info["download_url"])
        except (KeyError, TypeError, ValueError):
            raise ModelDownloadError("bad_model_info", "The server described the model incompletely.") from None
        if len(sha) != 64 or not 0 < size <= MAX_MODEL_BYTES:
            raise ModelDownloadError("bad_model_info", "The server described the model incompletely.")
        return load_classifier(self._download_verified(api, url, sha, size))

    def _fetch(self, api: ApiClient, url: str, size: int) -> bytes:
        response = api.download(url, size)
        chunks, total = [], 0
        for chunk in response.iter_content(1 << 16):
            total += len(chunk)
            if total > size:
                raise ModelDownloadError("model_corrupt", "The downloaded model is larger than announced; "
                                         "it was discarded.")
            chunks.append(chunk)
        return b"".join(chunks)

    def _prune(self, keep: str, max_kept: int = 3) -> None:
        """Drop partial files and all but the ``max_kept`` newest other models (federated rounds reuse them)."""
        others = sorted((p for p in (self.dir / "models").iterdir() if p.suffix == ".npz" and p.stem != keep),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        for path in others[max_kept - 1:]:
            path.unlink(missing_ok=True)
        for path in (self.dir / "models").iterdir():
            if path.suffix == ".part":
                path.unlink(missing_ok=True)

    # --- species pack ---------------------------------------------------------------------
    def species_pack(self) -> dict[str, dict]:
        """label -> species entry (name, description, band) from the downloaded or bundled pack."""
        for path in (self.dir / "species.json", BUNDLED_SPECIES):
            try:
                entries = json.loads(path.read_text(encoding="utf-8"))
                return {e["label"]: e for e in entries if isinstance(e, dict) and "label" in e}
            except (OSError, ValueError, TypeError, KeyError):
                continue
        return {}

    def update_species_pack(self, api: ApiClient, region: Region) -> int:
        """Fetch every page of the catalogue and install it whole; on any failure the installed pack
        (or the bundled one) stays untouched and :class:`ModelDownloadError` says why."""
        try:
            entries = api.species()
        except ApiError as exc:
            if exc.code == "species_pack_truncated":
                raise ModelDownloadError(exc.code, exc.message) from None
            raise
        if not isinstance(entries, list) or not all(isinstance(e, dict) and "label" in e for e in entries):
            raise ModelDownloadError("bad_species_pack", "The species list from the server is unreadable; "
                                     "the previous list stays in use.")
        if not entries:
            raise ModelDownloadError("bad_species_pack", "The server sent an empty species list; "
                                     "the previous list stays in use.")
        atomic_write(self.dir / "species.json", json.dumps([species_entry(e) for e in entries]).encode())
        atomic_write(self.dir / "region.json", json.dumps({"key": region.key}).encode())
        return len(entries)

    @property
    def has_downloaded_pack(self) -> bool:
        return (self.dir / "species.json").exists()

    # --- location/date prior --------------------------------------------------------------
    def update_prior(self, api: ApiClient, region: Region, max_pages: int = PRIOR_MAX_PAGES) -> int:
        """Fetch the region's public observations (obscured where the species is sensitive) into
        ``prior.json`` as ``[{species, lat, lng, date}]``; returns how many. A failure keeps the old file."""
        records: list[dict] = []
        path: str | None = "/api/v1/observations/"
        params: dict | None = {"bbox": ",".join(f"{v:.6f}" for v in region.bbox), "page_size": PRIOR_PAGE_SIZE}
        for _ in range(max_pages):
            data = api.get_json(path, params=params)
            records.extend(prior_records(data))
            path, params = same_origin_path(data.get("next") if isinstance(data, dict) else None), None
            if not path:
                break
        atomic_write(self.dir / "prior.json", json.dumps(records).encode())
        return len(records)

    def prior(self) -> SpeciesPrior | None:
        """The location/date prior of the installed region, or None before the first download."""
        try:
            records = json.loads((self.dir / "prior.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        prior = SpeciesPrior.from_records(records if isinstance(records, list) else [])
        return prior if len(prior.labels) else None

    def region(self) -> Region | None:
        try:
            key = json.loads((self.dir / "region.json").read_text())["key"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return next((r for r in REGIONS if r.key == key), None)

    def set_region(self, region: Region) -> None:
        atomic_write(self.dir / "region.json", json.dumps({"key": region.key}).encode())


def species_entry(entry: dict) -> dict:
    """A catalogue entry as the app keeps it: the server's fields plus ``band_hz`` [low, high] from
    ``band_low_hz``/``band_high_hz`` (the bundled pack's form), when both are numbers."""
    out = dict(entry)
    low, high = entry.get("band_low_hz"), entry.get("band_high_hz")
    if "band_hz" not in out and isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 <= low < high:
        out["band_hz"] = [low, high]
    return out


def prior_records(page: object) -> list[dict]:
    """``{species, lat, lng, date}`` of a GeoJSON observation page's point features (others skipped)."""
    out = []
    features = page.get("features") if isinstance(page, dict) else None
    for f in features if isinstance(features, list) else []:
        try:
            lng, lat = f["geometry"]["coordinates"][:2]
            props = f["properties"]
            out.append({"species": str(props["species"]), "lat": float(lat), "lng": float(lng),
                        "date": str(props.get("observed_at") or "")[:10]})
        except (KeyError, TypeError, ValueError, IndexError):
            continue
    return out


def free_bytes(path: str | Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize
