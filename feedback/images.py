"""Checking and cleaning customers' photos before anything is stored.

A photo is accepted only when it is at most `MAX_PHOTO_BYTES`, Pillow recognises it as JPEG,
PNG or WebP, its declared size is at most `MAX_PIXELS` (checked from the header, before any
pixel is decoded, so a decompression bomb costs nothing), and it decodes completely. It is then
re-encoded — which drops EXIF (GPS position, camera serial) and any other metadata — to JPEG, or
to PNG when it has transparency. Nothing here touches the disk: `feedback.services` writes the
cleaned bytes only once every photo and every field has passed.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # 40 megapixels: more than any phone camera, far less than a bomb.
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}

# Pillow's own guard, for any other code path opening images in this process: it warns above
# this many pixels and refuses above twice as many. The explicit check below refuses sooner.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


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
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # `open` reads only the header: the declared size is known before any decoding.
            with Image.open(io.BytesIO(data)) as probe:
                image_format = probe.format
                width, height = probe.size
                if image_format not in ACCEPTED_FORMATS:
                    raise _refuse(name, not_image)
                if width * height > MAX_PIXELS:
                    raise _refuse(name, _too_large_message(width, height))
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
                return _reencode(name, image, image_format)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(name, _too_large_message(None, None)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise _refuse(name, not_image) from None


def _too_large_message(width, height) -> str:
    if width and height:
        return _("the image is %(width)s × %(height)s pixels; at most %(limit)s million pixels are accepted.") % {
            "width": width,
            "height": height,
            "limit": MAX_PIXELS // 1_000_000,
        }
    return _("the image has too many pixels; at most %(limit)s million pixels are accepted.") % {
        "limit": MAX_PIXELS // 1_000_000
    }


def _reencode(name: str, image: Image.Image, image_format: str) -> CleanPhoto:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
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
