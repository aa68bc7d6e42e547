"""Species pictures: an admin uploads one in the Django admin (checked, re-encoded, metadata dropped),
the species pack lists its URL and credit, the picture is served there, and the phone fetches it for
its species card. Hostile uploads get a clear error and leave nothing stored."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.test import Client
from PIL import Image

from server.platform import storage
from server.species.images import SERVED_SIDE, PictureRejected, clean_picture
from server.species.models import Species

from .conftest import client_for

SECRET = "GPS secret: 18.2960 -65.7850"


def jpeg_with_gps(size=(1600, 1200)) -> bytes:
    img = Image.new("RGB", size, (40, 120, 60))
    exif = Image.Exif()
    exif[0x010E] = SECRET                           # ImageDescription
    gps = exif.get_ifd(0x8825)                      # GPS IFD
    gps[1], gps[2], gps[3], gps[4] = "N", (18.0, 17.0, 45.6), "W", (65.0, 47.0, 6.0)
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif, comment=SECRET.encode())
    return out.getvalue()


def png_bytes(size=(300, 200), mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` (a decompression bomb's shape), with one tiny IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def stored_pictures() -> list[str]:
    return list(storage.walk("species/images"))


@pytest.fixture
def admin_browser(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def change_form(species: Species, **overrides) -> dict:
    """What the admin's change form posts for ``species`` (unchanged fields as they are)."""
    data = {"label": species.label, "kind": species.kind, "rank": species.rank, "parent": "",
            "common_name": species.common_name, "scientific_name": species.scientific_name,
            "description": species.description, "conservation_status": species.conservation_status,
            "band_low_hz": species.band_low_hz or "", "band_high_hz": species.band_high_hz or "",
            "source": species.source, "image_attribution": species.image_attribution,
            "image_licence": species.image_licence, "image_source_url": species.image_source_url}
    if species.identifiable:
        data["identifiable"] = "on"
    if species.sensitive:
        data["sensitive"] = "on"
    data.update(overrides)
    return data


def upload(browser: Client, species: Species, data: bytes | None, name: str, **fields):
    """The admin's change form posted with ``data`` as the picture file (None: no file)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    picture = SimpleUploadedFile(name, data, content_type="image/jpeg") if data is not None else ""
    return browser.post(f"/admin/species/species/{species.pk}/change/", change_form(species, picture=picture, **fields))


def pack_entry(label: str) -> dict:
    rows = client_for(None).get("/api/v1/species/", {"search": label}).json()["results"]
    return next(r for r in rows if r["label"] == label)


def test_an_admin_uploads_a_picture_the_pack_lists_and_the_server_serves_without_its_metadata(
        catalogue, admin_browser, django_capture_on_commit_callbacks):
    bq = Species.objects.get(label="Bananaquit")
    assert pack_entry("Bananaquit")["image_url"] is None
    page = admin_browser.get(f"/admin/species/species/{bq.pk}/change/")
    assert page.status_code == 200 and b'name="picture"' in page.content and b"enctype=\"multipart/form-data\"" in page.content

    response = upload(admin_browser, bq, jpeg_with_gps(), "bq.jpg", image_attribution="Photo: A. Birder",
                      image_licence="CC BY 4.0", image_source_url="https://example.org/bq")
    assert response.status_code == 302, response.content.decode()[:2000]
    bq.refresh_from_db()
    assert bq.image_name.startswith("species/images/") and bq.image_name.endswith(".jpg")
    entry = pack_entry("Bananaquit")
    assert entry["image_attribution"] == "Photo: A. Birder" and entry["image_licence"] == "CC BY 4.0"
    assert entry["image_url"] == f"/api/v1/species/pictures/{bq.image_name.rsplit('/', 1)[1]}"

    served = client_for(None).get(entry["image_url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert "immutable" in served["Cache-Control"]
    body = b"".join(served.streaming_content)
    assert SECRET.encode() not in body and b"Exif" not in body
    img = Image.open(io.BytesIO(body))
    assert img.format == "JPEG" and max(img.size) == SERVED_SIDE and not img.getexif()
    assert stored_pictures() == [bq.image_name]
    # the change page shows the current picture
    assert entry["image_url"].encode() in admin_browser.get(f"/admin/species/species/{bq.pk}/change/").content

    # a new picture replaces it, the old file goes once no row names it; removing leaves the sonogram card
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(admin_browser, bq, png_bytes(), "bq.png").status_code == 302
    bq.refresh_from_db()
    assert bq.image_name.endswith(".png") and stored_pictures() == [bq.image_name]
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(admin_browser, bq, None, "", remove_picture="on").status_code == 302
    bq.refresh_from_db()
    assert bq.image_name == "" and stored_pictures() == [] and pack_entry("Bananaquit")["image_url"] is None


@pytest.mark.parametrize("data, name, code", [
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "bq.png", "picture_not_png_or_jpeg"),
    (b"GIF89a" + b"\0" * 200, "bq.gif", "picture_not_png_or_jpeg"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 200, "bq.png", "picture_not_png_or_jpeg"),
    ("gif", "bq.jpg", "picture_not_png_or_jpeg"),             # a real GIF named .jpg
    (png_header_only(100_000, 100_000), "bomb.png", "picture_too_big"),
    (png_header_only(9000, 100), "wide.png", "picture_too_big"),
    (png_bytes((8, 8)), "tiny.png", "picture_too_small"),
])
def test_hostile_uploads_get_a_clear_error_and_store_nothing(catalogue, admin_browser, data, name, code):
    if data == "gif":
        out = io.BytesIO()
        Image.new("RGB", (64, 64)).save(out, format="GIF")
        data = out.getvalue()
    with pytest.raises(PictureRejected) as caught:
        clean_picture(data)
    assert caught.value.code == code
    bq = Species.objects.get(label="Bananaquit")
    response = upload(admin_browser, bq, data, name, image_attribution="Photo: A. Birder")
    assert response.status_code == 200   # the form again, with the error
    assert str(caught.value).encode() in response.content.replace(b"&#x27;", b"'").replace(b"&#215;", "×".encode())
    bq.refresh_from_db()
    assert bq.image_name == "" and stored_pictures() == []


def test_a_picture_needs_its_credit_and_an_oversized_file_is_refused(catalogue, admin_browser):
    bq = Species.objects.get(label="Bananaquit")
    response = upload(admin_browser, bq, png_bytes(), "bq.png", image_attribution="")
    assert response.status_code == 200 and b"A picture needs its credit" in response.content
    assert stored_pictures() == []
    with pytest.raises(PictureRejected) as caught:
        clean_picture(b"\xff\xd8\xff" + b"\0" * (8 * 1024 * 1024 + 10))
    assert caught.value.code == "picture_too_large"


def test_only_a_named_picture_is_served(catalogue):
    anon = client_for(None)
    storage.put("species/images/" + "a" * 64 + ".png", png_bytes())   # stored, but no species names it
    for path in ("/api/v1/species/pictures/" + "a" * 64 + ".png", "/api/v1/species/pictures/" + "b" * 64 + ".jpg"):
        response = anon.get(path, HTTP_ACCEPT="image/png")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert anon.get("/api/v1/species/pictures/..%2F..%2Fsecret.png").status_code == 404


def test_pictures_are_read_only_through_the_api(catalogue, admin_user):
    bq = Species.objects.get(label="Bananaquit")
    response = client_for(admin_user).patch(f"/api/v1/species/{bq.pk}/", {"image_attribution": "x",
                                                                         "image_url": "/etc/passwd"}, format="json")
    assert response.status_code == 200
    bq.refresh_from_db()
    assert bq.image_attribution == "" and bq.image_name == ""


@pytest.mark.django_db(transaction=True)
def test_the_phone_fetches_the_pack_picture_from_the_live_server(live_server, tmp_path, settings):
    from mobile.api import ApiClient
    from mobile.ui.species_card import card_for, fetch_image
    from server.species.catalogue import load_catalogue
    from server.species.images import store_picture

    load_catalogue()
    picture = clean_picture(png_bytes((400, 400), mode="RGB"))
    Species.objects.filter(label="Bananaquit").update(image_name=store_picture(picture),
                                                       image_attribution="Photo: A. Birder, CC BY 4.0")
    api = ApiClient(live_server.url)
    pack = {e["label"]: e for e in api.species()}
    path = fetch_image(api, "Bananaquit", pack["Bananaquit"], tmp_path)
    assert path is not None and path.read_bytes() == picture.data
    assert card_for("Bananaquit", pack, tmp_path) == (str(path), "Photo: A. Birder, CC BY 4.0")
