"""Species cards: the picture an admin put in the species pack, with its attribution; where there is
none, a sonogram generated from a recording (the player's own take, else a bundled reference clip).

The pack's entry may carry ``image_url`` and ``image_attribution``; the picture is fetched once into
``<data dir>/species/`` (:func:`fetch_image`) and shown from there offline. A sonogram card names its
source, so a picture is never presented as something it is not.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from kivy.graphics import Color, Rectangle, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.metrics import dp
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from mobile import dsp
from mobile.ui import theme

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "audio"


def image_path(label: str, entry: dict, data_dir: Path) -> Path | None:
    url = str((entry or {}).get("image_url") or "")
    if not url:
        return None
    ext = ".png" if url.lower().endswith(".png") else ".jpg"
    # keyed by the URL too: the server's picture URLs are content addresses, so a new picture is fetched anew
    return Path(data_dir) / "species" / (hashlib.sha1(f"{label}\n{url}".encode()).hexdigest()[:16] + ext)


def fetch_image(api, label: str, entry: dict, data_dir: Path, max_bytes: int = 2_000_000) -> Path | None:
    """Download the pack's picture of ``label`` once (atomic write); None when the pack has none."""
    path = image_path(label, entry, data_dir)
    if path is None or path.exists():
        return path
    data = api.request("GET", entry["image_url"], auth=False).content
    if len(data) > max_bytes or not (data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff"):
        raise ValueError("The species picture is not a PNG or JPEG image.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def fetch_pictures(client, limit: int = 300) -> int:
    """Fetch the pictures the installed species pack names (after a pack download); returns how many
    are on the phone. A picture that fails is skipped: its card shows a sonogram instead."""
    done = 0
    for label, entry in list(client.models.species_pack().items())[:limit]:
        try:
            done += fetch_image(client.api, label, entry, client.data_dir) is not None
        except Exception:  # noqa: BLE001 - offline, 404 or not an image: the sonogram card stays
            continue
    return done


def reference_clip(label: str) -> Path | None:
    """A bundled reference recording of the species (file names carry the label in snake case)."""
    slug = "".join(ch if ch.isalnum() else "_" for ch in label.lower().replace("'", "")).strip("_")
    if not REFERENCE_DIR.is_dir():
        return None
    return next(iter(sorted(REFERENCE_DIR.glob(f"XC*_{slug}.ogg"))), None)


def sonogram_texture(samples: np.ndarray, sample_rate: int) -> Texture | None:
    """A sonogram (time across, pitch up) coloured for the dark theme."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    x = x[: int(sample_rate * 6)]
    if x.size < 1024:
        return None
    spec = dsp.spectrogram_db(x, sample_rate, n_fft=512, hop=256, max_hz=11_000)
    img = np.clip((spec - (spec.max() - 60.0)) / 60.0, 0, 1).T
    bg = np.array(theme.SURFACE[:3])[None, None, :]
    ink = np.array(theme.PRIMARY_LIGHT[:3])[None, None, :]
    hot = np.array(theme.ACCENT[:3])[None, None, :]
    v = img[..., None]
    rgb = bg * (1 - v) + ink * v
    rgb = np.where(v > 0.7, ink + (hot - ink) * (v - 0.7) / 0.3, rgb)
    data = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    tex = Texture.create(size=(data.shape[1], data.shape[0]), colorfmt="rgb")
    tex.blit_buffer(np.ascontiguousarray(data).tobytes(), colorfmt="rgb", bufferfmt="ubyte")
    return tex


def card_for(label: str, pack: dict, data_dir: Path, audio: tuple[np.ndarray, int] | None = None):
    """(picture path or sonogram texture or None, credit line) for ``label``."""
    entry = pack.get(label) or {}
    path = image_path(label, entry, data_dir)
    if path is not None and path.exists():
        return str(path), str(entry.get("image_attribution") or "Picture from the species pack")
    if audio is not None:
        tex = sonogram_texture(*audio)
        if tex is not None:
            return tex, "Sonogram of your recording"
    ref = reference_clip(label)
    if ref is not None:
        try:
            from mobile.soundscape import decode_clip

            tex = sonogram_texture(*decode_clip(ref.read_bytes()))
        except Exception:  # noqa: BLE001 - an unreadable clip: no card picture
            tex = None
        if tex is not None:
            return tex, f"Sonogram of a reference recording ({ref.name.split('_')[0]}, xeno-canto)"
    return None, ""


class SpeciesPicture(Widget):
    """Shows a picture file or a sonogram texture with rounded framing; empty when neither."""

    source = ObjectProperty(None, allownone=True)  # str path or Texture
    credit = StringProperty("")

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(pos=self.redraw, size=self.redraw, source=self.redraw)

    def redraw(self, *_):
        self.canvas.clear()
        tex = self.source
        if isinstance(tex, str):
            from kivy.core.image import Image as CoreImage

            try:
                tex = CoreImage(tex).texture
            except Exception:  # noqa: BLE001 - a damaged file: show the frame only
                tex = None
        with self.canvas:
            Color(*theme.SURFACE_HI)
            RoundedRectangle(pos=self.pos, size=self.size, radius=[dp(12)])
            if tex is not None:
                Color(1, 1, 1, 1)
                tw, th = tex.size
                # cover the box, cropping the texture's overflow (keeps the aspect ratio)
                scale = max(self.width / tw, self.height / th)
                cw, ch = self.width / scale, self.height / scale
                u0 = max(0.0, (tw - cw) / 2 / tw)
                v0 = max(0.0, (th - ch) / 2 / th)
                region = tex.get_region(int(u0 * tw), int(v0 * th), int(min(tw, cw)), int(min(th, ch)))
                Rectangle(texture=region, pos=(self.x + dp(4), self.y + dp(4)),
                          size=(self.width - dp(8), self.height - dp(8)))
