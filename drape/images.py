"""Checking uploaded images and making the copies that are served. Pure functions over bytes, no
I/O: callers run them in a thread, since decoding is CPU work."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

# Declared content type -> (Pillow format, file extension).
FORMATS: Final = {
    "image/jpeg": ("JPEG", "jpg"),
    "image/png": ("PNG", "png"),
    "image/webp": ("WEBP", "webp"),
}
# A 10 MB file can still declare 60000 x 60000 pixels and decode to gigabytes, so the size in
# pixels is checked from the header before any pixel is decoded. 40 MP covers phone cameras.
MAX_PIXELS: Final = 40_000_000
MAX_SIDE: Final = 12_000
DISPLAY_SIDE: Final = 1600
THUMBNAIL_SIDE: Final = 320
WEBP_QUALITY: Final = 82
WEBP_METHOD: Final = 2  # 0 (fast) to 6 (small): 2 is within 8% of 6 at a third of the time


class ImageRejected(Exception):
    """The bytes are not an acceptable image of the declared type; the message says why."""


@dataclass(frozen=True, slots=True)
class Rendition:
    side: int  # the longest edge asked for
    size: tuple[int, int]  # what it came out as (never larger than the original)
    data: bytes  # WebP


@dataclass(frozen=True, slots=True)
class Checked:
    width: int
    height: int
    renditions: tuple[Rendition, ...]  # largest first


def render(
    data: bytes, content_type: str, sides: tuple[int, ...] = (DISPLAY_SIDE, THUMBNAIL_SIDE)
) -> Checked:
    """Check that `data` is a whole image of `content_type` within the pixel limits, and return
    WebP copies at most `side` pixels on their longer edge: upright per EXIF, without metadata
    (phone photos carry GPS positions)."""
    fmt, _ = FORMATS[content_type]
    label = "WebP" if fmt == "WEBP" else fmt
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            width, height = _check_size(im)
            im.verify()
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            if fmt == "JPEG":
                # Decode at the smallest scale (1/2, 1/4, 1/8) still covering the largest copy.
                scale = max(sides) / max(width, height)
                im.draft("RGB", (round(width * scale), round(height * scale)))
            upright = _upright(im)
    except UnidentifiedImageError:
        raise ImageRejected(f"is not a {label} image") from None
    except Image.DecompressionBombError:
        raise ImageRejected(f"has more than {MAX_PIXELS} pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageRejected(f"is not a whole, readable {label} image") from None
    out = []
    for side in sorted(sides, reverse=True):
        # Each copy is made from the previous, larger one: cheaper, and as sharp.
        upright.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        buf = io.BytesIO()
        upright.save(buf, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
        out.append(Rendition(side=side, size=upright.size, data=buf.getvalue()))
    return Checked(width=width, height=height, renditions=tuple(out))


def _check_size(im: Image.Image) -> tuple[int, int]:
    width, height = im.size
    if width < 1 or height < 1:
        raise ImageRejected("has no pixels")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageRejected(
            f"is {width}x{height}; at most {MAX_SIDE} pixels a side and {MAX_PIXELS} in all"
        )
    return width, height


def _upright(im: Image.Image) -> Image.Image:
    im = ImageOps.exif_transpose(im) or im
    alpha = im.mode in {"RGBA", "LA", "PA"} or "transparency" in im.info
    return im.convert("RGBA" if alpha else "RGB")
