import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from feedback import images
from tests.feedback.helpers import bomb_png_bytes, jpeg_with_gps_bytes, png_bytes, png_upload, upload


def test_png_is_reencoded_as_png_with_its_size():
    photo = images.clean_photo(png_upload(size=(40, 30)))
    assert (photo.content_type, photo.extension, photo.width, photo.height) == ("image/png", "png", 40, 30)
    assert Image.open(io.BytesIO(photo.content)).format == "PNG"


def test_jpeg_reencoding_strips_exif_and_gps():
    assert Image.open(io.BytesIO(jpeg_with_gps_bytes())).getexif()  # the input really carries EXIF
    photo = images.clean_photo(upload("gps.jpg", jpeg_with_gps_bytes(), "image/jpeg"))
    reopened = Image.open(io.BytesIO(photo.content))
    assert reopened.format == "JPEG"
    assert dict(reopened.getexif()) == {}
    assert "exif" not in reopened.info


def test_webp_is_accepted_and_stored_as_jpeg():
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (1, 2, 3)).save(buf, format="WEBP")
    photo = images.clean_photo(upload("x.webp", buf.getvalue(), "image/webp"))
    assert photo.content_type == "image/jpeg"


def test_text_file_named_png_is_refused_naming_the_file():
    with pytest.raises(ValidationError, match=r"notes.png.*not a JPEG, PNG or WebP"):
        images.clean_photo(upload("notes.png", b"just some text, not pixels"))


def test_gif_is_refused():
    buf = io.BytesIO()
    Image.new("RGB", (5, 5)).save(buf, format="GIF")
    with pytest.raises(ValidationError, match=r"anim.gif"):
        images.clean_photo(upload("anim.gif", buf.getvalue(), "image/gif"))


def test_truncated_png_is_refused():
    with pytest.raises(ValidationError, match=r"cut.png"):
        images.clean_photo(upload("cut.png", png_bytes((300, 300))[:120]))


def test_decompression_bomb_is_refused_by_pillows_guard():
    with pytest.raises(ValidationError, match=r"bomb.png.*too many pixels"):
        images.clean_photo(upload("bomb.png", bomb_png_bytes()))


def test_declared_size_is_checked_even_without_pillows_guard(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ValidationError, match=r"50000 × 50000 pixels"):
        images.clean_photo(upload("bomb.png", bomb_png_bytes()))


def test_pillow_guard_is_set_to_the_cap():
    assert Image.MAX_IMAGE_PIXELS == images.MAX_PIXELS


def test_oversize_file_is_refused_before_reading():
    big = upload("huge.png", b"\0" * (images.MAX_PHOTO_BYTES + 1))
    with pytest.raises(ValidationError, match=r"huge.png.*larger than 5 MB"):
        images.clean_photo(big)


def test_four_photos_are_refused():
    with pytest.raises(ValidationError, match=r"at most 3"):
        images.clean_photos([png_upload(f"p{i}.png") for i in range(4)])


def test_every_refused_photo_is_named():
    with pytest.raises(ValidationError) as caught:
        images.clean_photos([upload("a.png", b"no"), png_upload("ok.png"), upload("b.png", b"no")])
    text = " ".join(caught.value.messages)
    assert "a.png" in text and "b.png" in text and "ok.png" not in text
