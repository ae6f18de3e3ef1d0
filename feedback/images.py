"""Checking and cleaning customers' photos before anything is stored.

A photo is accepted only when it is at most `MAX_PHOTO_BYTES`, Pillow recognises it as JPEG,
PNG or WebP, its declared size is at most `FEEDBACK_PHOTO_MAX_PIXELS` (24 megapixels by default,
what a phone camera takes; checked from the header, before any pixel is decoded, so a
decompression bomb costs nothing), and it decodes completely. It is then scaled down to at most
`FEEDBACK_PHOTO_MAX_EDGE` pixels on its longer side (2048: plenty to see a damaged product) —
a JPEG is decoded straight at a reduced scale (Pillow's `draft`), so a worker never holds the
full-size pixels of one — and re-encoded, which drops EXIF (GPS position, camera serial) and any
other metadata, to JPEG, or to PNG when it has transparency. Nothing here touches the disk:
`feedback.services` writes the cleaned bytes only once every photo and every field has passed.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_PIXELS = 24_000_000  # 24 megapixels: a phone camera's photo; far less than a bomb.
DEFAULT_MAX_EDGE = 2048
MAX_PIXELS = int(getattr(settings, "FEEDBACK_PHOTO_MAX_PIXELS", DEFAULT_MAX_PIXELS))
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
# Modes Pillow scales directly; others (palette, 16-bit, CMYK...) are converted first.
SCALABLE_MODES = {"RGB", "RGBA", "L", "LA"}

# Pillow's own guard, for any other code path opening images in this process: it warns above
# this many pixels and refuses above twice as many. The explicit check below refuses sooner.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def max_pixels() -> int:
    """The largest photo accepted, in pixels (`FEEDBACK_PHOTO_MAX_PIXELS`)."""
    return int(getattr(settings, "FEEDBACK_PHOTO_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def max_edge() -> int:
    """The longer side of a stored photo at most, in pixels (`FEEDBACK_PHOTO_MAX_EDGE`)."""
    return int(getattr(settings, "FEEDBACK_PHOTO_MAX_EDGE", DEFAULT_MAX_EDGE))


@dataclass(frozen=True)
class CleanPhoto:
    """A photo that passed every check, re-encoded and ready to store."""

    original_name: str
    content: bytes
    extension: str
    content_type: str
    width: int
    height: int


def _name_of(upload) -> str:
    return str(getattr(upload, "name", "") or _("photo")).rsplit("/", 1)[-1][:255]


def _refuse(name: str, problem: str) -> ValidationError:
    return ValidationError(_("“%(name)s”: %(problem)s") % {"name": name, "problem": problem}, code="invalid_photo")


def _read(upload, name: str) -> bytes:
    size = getattr(upload, "size", None)
    limit_mb = MAX_PHOTO_BYTES // (1024 * 1024)
    too_big = _("the file is larger than %(limit)s MB.") % {"limit": limit_mb}
    if size is not None and size > MAX_PHOTO_BYTES:
        raise _refuse(name, too_big)
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(MAX_PHOTO_BYTES + 1) if hasattr(upload, "read") else bytes(upload)
    if len(data) > MAX_PHOTO_BYTES:
        raise _refuse(name, too_big)
    if not data:
        raise _refuse(name, _("the file is empty."))
    return data


def clean_photo(upload) -> CleanPhoto:
    """Check one uploaded photo and return it re-encoded; ValidationError naming the file otherwise."""
    name = _name_of(upload)
    data = _read(upload, name)
    not_image = _("this is not a JPEG, PNG or WebP image.")
    try:
        with warnings.catch_warnings():
            # Up to twice the cap, Pillow only warns: the explicit check below refuses, naming the size.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # `open` reads only the header: the declared size is known before any decoding.
            with Image.open(io.BytesIO(data)) as probe:
                image_format = probe.format
                width, height = probe.size
                if image_format not in ACCEPTED_FORMATS:
                    raise _refuse(name, not_image)
                if width * height > max_pixels():
                    raise _refuse(name, _too_large_message(width, height))
                probe.verify()
            return _reencode(name, _decoded_scaled_down(data), image_format)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(name, _too_large_message(None, None)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise _refuse(name, not_image) from None


def _decoded_scaled_down(data: bytes) -> Image.Image:
    """The decoded photo, upright, at most `max_edge()` on its longer side. A JPEG is decoded at
    the smallest scale (1/2, 1/4, 1/8) not below its final size (`draft`), so its full-size
    pixels are never in memory; other formats decode once, then shrink."""
    # No `with`: nothing may keep the full-size image alive once it has been reduced (the data
    # is in memory, so there is no file to close).
    image = Image.open(io.BytesIO(data))
    edge = max_edge()
    box = (edge, edge)
    width, height = image.size
    if image.format == "JPEG" and max(width, height) > edge:
        # The size the photo will have; Pillow picks the smallest DCT scale not below it.
        ratio = edge / max(width, height)
        image.draft(None, (math.ceil(width * ratio), math.ceil(height * ratio)))
    image.load()  # decodes every byte: a truncated or corrupt file fails here
    if image.mode not in SCALABLE_MODES:
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    factor = max(image.size) // edge
    if factor >= 2:
        # Averaging whole blocks of pixels first frees the full-size pixels before the fine
        # resampling, which then works on a quarter of them or fewer.
        image = image.reduce(factor)
    image.thumbnail(box, Image.Resampling.LANCZOS)
    return ImageOps.exif_transpose(image)


def _too_large_message(width, height) -> str:
    limit = max_pixels() // 1_000_000
    if width and height:
        return _("the image is %(width)s × %(height)s pixels; at most %(limit)s million pixels are accepted.") % {
            "width": width,
            "height": height,
            "limit": limit,
        }
    return _("the image has too many pixels; at most %(limit)s million pixels are accepted.") % {"limit": limit}


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _reencode(name: str, image: Image.Image, image_format: str) -> CleanPhoto:
    has_alpha = _has_alpha(image)
    out = io.BytesIO()
    if image_format == "PNG" or has_alpha:
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if has_alpha else "RGB")
        # No `pnginfo`/`exif` arguments: text chunks and EXIF are not copied.
        image.save(out, format="PNG", optimize=True)
        extension, content_type = "png", "image/png"
    else:
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, format="JPEG", quality=85, optimize=True)
        extension, content_type = "jpg", "image/jpeg"
    return CleanPhoto(
        original_name=name,
        content=out.getvalue(),
        extension=extension,
        content_type=content_type,
        width=image.width,
        height=image.height,
    )


def clean_photos(uploads) -> list[CleanPhoto]:
    """Check up to `MAX_PHOTOS` photos; one ValidationError listing every refused file."""
    uploads = [u for u in (uploads or ()) if u]
    if len(uploads) > MAX_PHOTOS:
        raise ValidationError(
            _("You sent %(count)s photos; at most %(limit)s are accepted.")
            % {"count": len(uploads), "limit": MAX_PHOTOS},
            code="too_many_photos",
        )
    cleaned, errors = [], []
    for upload in uploads:
        try:
            cleaned.append(clean_photo(upload))
        except ValidationError as error:
            errors.extend(error.error_list)
    if errors:
        raise ValidationError(errors)
    return cleaned
