"""Species pictures: the check and re-encoding of an image an admin uploads, and where it is stored.

Contract of :func:`clean_picture`: the input is accepted only when Pillow reads it as a PNG or JPEG of
at most :data:`MAX_UPLOAD_BYTES`, each side between :data:`MIN_SIDE` and :data:`MAX_SIDE` pixels and at
most :data:`MAX_PIXELS` pixels in all (checked from the header, before any pixel is decoded). The
output is a new file encoded from the pixels alone, scaled to at most :data:`SERVED_SIDE` pixels on its
longest side: no EXIF (GPS included), XMP, ICC profile, comment or text chunk of the upload survives.
A PNG stays a PNG (transparency kept); a JPEG stays a JPEG, turned upright by its EXIF orientation first.

Stored pictures are content-addressed under ``species/images/`` (:func:`stored_name`), so a picture's
URL never changes while the picture does not.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from server.platform.storage import sha256_hex

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MIN_SIDE = 32
MAX_SIDE = 8000
MAX_PIXELS = 40_000_000
SERVED_SIDE = 1024          # the phone keeps pictures of at most 2 MB; 1024 px JPEG/PNG stay well below
JPEG_QUALITY = 85
FOLDER = "species/images"
NAME_PATTERN = re.compile(r"^[0-9a-f]{64}\.(?:png|jpg)$")
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


class PictureRejected(ValueError):
    """The upload is not an acceptable picture; ``code`` is stable, the message is for the admin."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CleanPicture:
    data: bytes
    ext: str            # "png" or "jpg"
    width: int
    height: int

    @property
    def name(self) -> str:
        return stored_name(self.data, self.ext)


def stored_name(data: bytes, ext: str) -> str:
    """The store's name of a cleaned picture (its content address)."""
    return f"{FOLDER}/{sha256_hex(data)}.{ext}"


def clean_picture(data: bytes) -> CleanPicture:
    """``data`` checked and re-encoded (see the module's contract); :class:`PictureRejected` otherwise."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PictureRejected("picture_too_large", f"The picture is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureRejected("picture_too_big", f"The picture has far more than {MAX_PIXELS // 1_000_000} "
                              "megapixels.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PictureRejected("picture_not_png_or_jpeg", "The file is not a PNG or JPEG picture.") from None
    width, height = img.size
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise PictureRejected("picture_too_big", f"The picture is {width}×{height} pixels; at most {MAX_SIDE} "
                              f"pixels a side and {MAX_PIXELS // 1_000_000} megapixels are accepted.")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise PictureRejected("picture_too_small", f"The picture is {width}×{height} pixels; at least "
                              f"{MIN_SIDE} pixels a side are needed.")
    fmt = img.format
    try:
        img.load()
        if fmt == "JPEG":
            img = ImageOps.exif_transpose(img)
    except (OSError, ValueError, SyntaxError):
        raise PictureRejected("picture_not_png_or_jpeg", "The picture's data is damaged.") from None
    keep_alpha = fmt == "PNG" and ("A" in img.getbands() or "transparency" in img.info)
    pixels = img.convert("RGBA" if keep_alpha else "RGB")
    pixels.thumbnail((SERVED_SIDE, SERVED_SIDE), Image.Resampling.LANCZOS)
    pixels = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())   # pixels only: no info travels
    out = io.BytesIO()
    if fmt == "PNG":
        pixels.save(out, format="PNG", optimize=True)
        ext = "png"
    else:
        pixels.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        ext = "jpg"
    return CleanPicture(out.getvalue(), ext, *pixels.size)


def picture_url(name: str) -> str | None:
    """The path (same origin) a stored picture is served at; None for no picture."""
    if not name:
        return None
    from django.urls import reverse

    return reverse("species-picture", kwargs={"name": name.rsplit("/", 1)[-1]})


def store_picture(picture: CleanPicture) -> str:
    """Write ``picture`` to the file store (complete or absent; a picture stored already is kept) and
    return its stored name."""
    from server.platform import storage

    storage.put_content_addressed(picture.name, picture.data)
    return picture.name


def drop_if_unused(name: str) -> None:
    """Delete the stored picture ``name`` when no catalogue row names it any more."""
    from server.platform import storage

    from .models import Species

    if name and not Species.objects.filter(image_name=name).exists():
        storage.delete(name)
