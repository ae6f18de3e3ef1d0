"""Images for feedback tests, made with Pillow on the spot."""

from __future__ import annotations

import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def png_bytes(size=(40, 30), color=(200, 30, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_with_gps_bytes(size=(40, 30)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}  # GPSInfo: latitude
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def bomb_png_bytes(width=50_000, height=50_000) -> bytes:
    """A small PNG whose header (IHDR) declares a huge size: decoding it would need gigabytes."""
    data = bytearray(png_bytes((8, 8)))
    # IHDR chunk: 8-byte signature, 4-byte length, b"IHDR", then width and height.
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF
    data[29:33] = struct.pack(">I", crc)
    return bytes(data)


def upload(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def png_upload(name="photo.png", **kwargs) -> SimpleUploadedFile:
    return upload(name, png_bytes(**kwargs))


def solid_png_bytes(width: int, height: int, color=(90, 140, 60)) -> bytes:
    """A valid one-colour RGB PNG of any size, written row by row: a 36-megapixel photo is a
    few hundred KB and never sits in memory as pixels (in the test or anywhere)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\0" + bytes(color) * width  # filter type 0, then the pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
