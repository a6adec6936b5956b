"""The preview PNG: front and side views of the body in the skin tone on a light background."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from workers.avatar import AvatarBuild


def test_preview_shows_two_views_in_the_skin_tone(
    avatars: Callable[[int], AvatarBuild], bodies: tuple
) -> None:
    a = avatars(4)
    tone = bodies[4][1]["skin_tone"]
    img = np.asarray(Image.open(io.BytesIO(a.preview_png)).convert("RGB")).astype(int)
    assert img.shape == (512, 512, 3)
    background = img[0, 0]
    assert background.min() > 220  # light
    body = np.abs(img - background).sum(axis=2) > 30
    assert 0.05 < body.mean() < 0.5
    cols = np.flatnonzero(body.any(axis=0))
    gaps = np.flatnonzero(np.diff(cols) > 5)
    assert len(gaps) >= 1  # two separate figures side by side
    rows = np.flatnonzero(body.any(axis=1))
    assert rows.min() > 5 and rows.max() < 506  # the whole body fits, head to toe
    # Lit body pixels have the hue of the skin tone: the brightest match it closely.
    skin = np.array([int(tone[i : i + 2], 16) for i in (1, 3, 5)])
    inner = body.copy()  # away from the anti-aliased outline
    for axis in (0, 1):
        for shift in (-2, 2):
            inner &= np.roll(body, shift, axis=axis)
    lit = img[inner][np.argsort(img[inner].sum(axis=1))[-200:]]
    direction = lit.mean(axis=0) / np.linalg.norm(lit.mean(axis=0))
    assert direction @ (skin / np.linalg.norm(skin)) > 0.995
