"""Customers' photos cost a worker little: a 24-megapixel cap, scaled down before re-encoding.

Pillow holds pixels in C memory, which tracemalloc does not see, so the memory tests process the
photos in a fresh Python process and read the operating system's peak resident size (Linux).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.cache import cache
from PIL import Image, JpegImagePlugin

from feedback import images
from feedback.models import Ticket
from tests.feedback.helpers import solid_png_bytes, upload

# Three photos processed one after another must never raise the worker's peak by this much.
MEMORY_BOUND_MB = 150

# The peak is read from /proc/self/status (VmHWM, this process's own high-water mark):
# getrusage's ru_maxrss survives exec, so it would start at the pytest worker's own peak.
MEASURE = r"""
import sys
import django
django.setup()
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from feedback import images

def status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])

data = open(sys.argv[1], "rb").read()
uploads = [SimpleUploadedFile(f"photo{i}.png", data, content_type="image/png") for i in range(3)]
before = status_kb("VmRSS")  # what the process holds now: the growth below is an upper bound
try:
    cleaned = images.clean_photos(uploads)
    outcome = "accepted " + " ".join(f"{photo.width}x{photo.height}" for photo in cleaned)
except ValidationError as error:
    outcome = "refused " + " | ".join(error.messages)
print((status_kb("VmHWM") - before) // 1024)
print(outcome)
"""


def process_three_in_a_fresh_worker(tmp_path, png: bytes) -> tuple[int, str]:
    path = tmp_path / "photo.png"
    path.write_bytes(png)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "loyalty_crm.settings"}
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    growth, outcome = result.stdout.strip().splitlines()[-2:]
    return int(growth), outcome


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's /proc")
def test_three_36_megapixel_pngs_are_refused_from_the_header_at_no_memory_cost(tmp_path):
    png = solid_png_bytes(7200, 5000)  # 36 megapixels in about 120 KB
    growth_mb, outcome = process_three_in_a_fresh_worker(tmp_path, png)
    assert outcome.startswith("refused")
    assert outcome.count("7200 × 5000 pixels; at most 24 million pixels are accepted") == 3
    assert growth_mb < MEMORY_BOUND_MB


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's /proc")
def test_three_photos_just_under_the_cap_are_scaled_down_within_the_memory_bound(tmp_path):
    png = solid_png_bytes(6000, 3990)  # 23.94 megapixels
    growth_mb, outcome = process_three_in_a_fresh_worker(tmp_path, png)
    assert outcome == "accepted 2048x1362 2048x1362 2048x1362"
    assert growth_mb < MEMORY_BOUND_MB


def test_the_cap_is_a_setting_named_in_the_refusal(settings):
    settings.FEEDBACK_PHOTO_MAX_PIXELS = 1_000_000
    with pytest.raises(Exception, match=r"1200 × 1000 pixels; at most 1 million"):
        images.clean_photo(upload("wide.png", solid_png_bytes(1200, 1000)))


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_and_stored_at_the_max_edge(monkeypatch):
    buf = io.BytesIO()
    Image.new("RGB", (6000, 4000), (30, 60, 90)).save(buf, format="JPEG", quality=80)
    decoded_sizes = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original_draft(self, mode, size)
        decoded_sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    photo = images.clean_photo(upload("big.jpg", buf.getvalue(), "image/jpeg"))
    assert decoded_sizes[0] == (3000, 2000)  # decoded at half scale: a quarter of the pixels
    assert (photo.width, photo.height) == (2048, 1365)
    assert Image.open(io.BytesIO(photo.content)).size == (2048, 1365)


def test_exif_orientation_is_applied_after_scaling_down():
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    buf = io.BytesIO()
    Image.new("RGB", (3000, 2000), (200, 10, 10)).save(buf, format="JPEG", exif=exif)
    photo = images.clean_photo(upload("sideways.jpg", buf.getvalue(), "image/jpeg"))
    assert (photo.width, photo.height) == (1365, 2048)
    assert dict(Image.open(io.BytesIO(photo.content)).getexif()) == {}


def test_a_small_photo_keeps_its_size(settings):
    photo = images.clean_photo(upload("small.png", solid_png_bytes(640, 480)))
    assert (photo.width, photo.height) == (640, 480)


@pytest.mark.django_db
def test_the_api_answers_400_naming_the_cap_for_a_36_megapixel_photo(api_anon):
    cache.clear()  # the anonymous submission throttle
    response = api_anon.post(
        "/api/v1/feedback/",
        {"kind": "complaint", "message": "破损", "photos": [upload("huge.png", solid_png_bytes(7200, 5000))]},
        format="multipart",
    )
    assert response.status_code == 400
    assert "huge.png" in str(response.json()["photos"]) and "24 million pixels" in str(response.json()["photos"])
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "LA"])
def test_every_png_mode_is_scaled_down(mode):
    buf = io.BytesIO()
    Image.new(mode, (5000, 3000)).save(buf, format="PNG", **({"transparency": 0} if mode == "P" else {}))
    photo = images.clean_photo(upload(f"{mode}.png", buf.getvalue()))
    assert (photo.width, photo.height, photo.content_type) == (2048, 1229, "image/png")
    if mode in ("P", "LA"):  # transparency is kept
        assert "A" in Image.open(io.BytesIO(photo.content)).getbands()
