"""Colour for the recommender: neutrals, families of CIELAB points, and a seeded k-means in CIELAB
for palettes and an image's dominant colours.

The conversions and CIEDE2000 are drape/colorspace.py's (re-exported here); a colour's family is
named by drape/colors.py, the one namer of the product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypedDict

import numpy as np

from drape import colors
from drape.colorspace import (
    ciede2000 as ciede2000,
)
from drape.colorspace import (
    hex_to_lab as hex_to_lab,
)
from drape.colorspace import (
    hex_to_rgb as hex_to_rgb,
)
from drape.colorspace import (
    hue_difference as hue_difference,
)
from drape.colorspace import (
    lab_to_hex as lab_to_hex,
)
from drape.colorspace import (
    lab_to_lch as lab_to_lch,
)
from drape.colorspace import (
    lab_to_srgb as lab_to_srgb,
)
from drape.colorspace import (
    lch_to_lab as lch_to_lab,
)
from drape.colorspace import (
    rgb_to_hex as rgb_to_hex,
)
from drape.colorspace import (
    srgb_to_lab as srgb_to_lab,
)
from workers.recommend.taxonomy import NEUTRAL_FAMILIES

# Below this chroma a colour reads as grey whatever its nominal hue.
NEUTRAL_CHROMA: Final = 10.0


def families_of_lab(lab: np.ndarray) -> list[str]:
    """Colour family of each CIELAB row (N, 3)."""
    rows = np.atleast_2d(np.asarray(lab, dtype=np.float64))
    return [colors.family_of_lab((float(r[0]), float(r[1]), float(r[2]))) for r in rows]


def color_family(hex_color: str) -> str:
    """The family name of a '#rrggbb' colour (drape.colors.color_family)."""
    return colors.color_family(hex_color)


def neutral_by(family: str | None, chroma: float) -> bool:
    """Neutral = goes with anything: a family worn as a neutral (navy, beige ...), or low chroma."""
    return (family is not None and family in NEUTRAL_FAMILIES) or chroma < NEUTRAL_CHROMA


def is_neutral(lab: np.ndarray, family: str | None = None) -> bool:
    return neutral_by(family, float(lab_to_lch(lab)[..., 1]))


@dataclass(frozen=True, slots=True)
class KMeans:
    centers: np.ndarray  # (k, 3) CIELAB
    labels: np.ndarray  # (N,) cluster of each point
    weights: np.ndarray  # (k,) total point weight per cluster
    inertia: float  # weighted sum of squared distances to the centres


def kmeans_lab(
    points: np.ndarray,
    k: int,
    *,
    weights: np.ndarray | None = None,
    seed: int = 0,
    n_init: int = 3,
    max_iter: int = 60,
    tol: float = 1e-4,
) -> KMeans:
    """Weighted k-means with k-means++ seeding, the best of `n_init` seeded runs.

    Distances are Euclidean in CIELAB (CIE76): CIEDE2000 is not a metric a mean can minimise, and
    in Lab the Euclidean distance is already close to perceptual for the coarse clusters wanted
    here. Fewer distinct points than k gives fewer clusters.
    """
    x = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if len(x) == 0:
        raise ValueError("k-means needs at least one point")
    if len(w) != len(x) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative, one per point, and not all zero")
    k = int(min(k, len(np.unique(x[w > 0], axis=0))))
    if k < 1:
        raise ValueError("k must be at least 1")
    rng = np.random.default_rng(seed)
    best: KMeans | None = None
    for _ in range(max(1, n_init)):
        run = _lloyd(x, w, _kmeans_pp(x, w, k, rng), max_iter, tol)
        if best is None or run.inertia < best.inertia - 1e-9:
            best = run
    assert best is not None
    # Heaviest cluster first, so callers can read the result as a ranked palette.
    order = np.argsort(-best.weights, kind="stable")
    remap = np.empty(k, dtype=np.int64)
    remap[order] = np.arange(k)
    return KMeans(best.centers[order], remap[best.labels], best.weights[order], best.inertia)


def _kmeans_pp(x: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centers = np.empty((k, 3))
    centers[0] = x[rng.choice(len(x), p=w / w.sum())]
    d2 = ((x - centers[0]) ** 2).sum(axis=1)
    for i in range(1, k):
        p = w * d2
        # Only duplicates of chosen centres left: any remaining distinct point will do.
        idx = rng.choice(len(x), p=p / p.sum()) if p.sum() > 0 else int(np.argmax(d2))
        centers[i] = x[idx]
        d2 = np.minimum(d2, ((x - centers[i]) ** 2).sum(axis=1))
    return centers


def _lloyd(x: np.ndarray, w: np.ndarray, centers: np.ndarray, max_iter: int, tol: float) -> KMeans:
    k = len(centers)
    x2 = (x**2).sum(axis=1)
    for _ in range(max_iter):
        d2 = np.maximum(x2[:, None] - 2 * x @ centers.T + (centers**2).sum(axis=1)[None, :], 0)
        labels = np.argmin(d2, axis=1)
        mass = np.bincount(labels, weights=w, minlength=k)
        sums = np.stack(
            [np.bincount(labels, weights=w * x[:, j], minlength=k) for j in range(3)], 1
        )
        new = centers.copy()
        filled = mass > 0
        new[filled] = sums[filled] / mass[filled, None]
        for j in np.flatnonzero(~filled):
            # An emptied cluster restarts at the point worst served by the others.
            far = int(np.argmax(w * d2[np.arange(len(x)), labels]))
            new[j] = x[far]
            labels[far] = j
        shift = float(np.abs(new - centers).max())
        centers = new
        if shift < tol:
            break
    d2 = np.maximum(x2[:, None] - 2 * x @ centers.T + (centers**2).sum(axis=1)[None, :], 0)
    labels = np.argmin(d2, axis=1)
    mass = np.bincount(labels, weights=w, minlength=k)
    inertia = float((w * d2[np.arange(len(x)), labels]).sum())
    return KMeans(centers, labels, mass, inertia)


# Most bins k-means gets from one image (see dominant_colors).
_MAX_BINS: Final = 4096


class DominantColor(TypedDict):
    hex: str
    family: str
    share: float


def dominant_colors(pixels: np.ndarray, k: int, *, seed: int = 0) -> list[DominantColor]:
    """The k main colours of an image, largest share first.

    `pixels` is (N, 3) or (H, W, 3) uint8 RGB; with a 4th (alpha) channel, pixels under half
    opacity are ignored, so a cut-out garment on a transparent background reports the garment.
    Pixels are first binned to 15-bit colour (32 levels per channel, finer than the eye separates
    fabric colours; 12-bit for very noisy images), each bin keeping its mean colour and pixel
    count, so k-means runs on at most a few thousand weighted points whatever the image size.
    """
    px = np.asarray(pixels)
    if px.shape[-1] not in (3, 4):
        raise ValueError("pixels must have 3 (RGB) or 4 (RGBA) channels")
    px = px.reshape(-1, px.shape[-1])
    if px.shape[1] == 4:
        px = px[px[:, 3] >= 128, :3]
    if len(px) == 0:
        return []
    px = px.astype(np.int64)
    for bits in (5, 4):
        # A noisy photo can fill thousands of 15-bit bins; 12-bit ones keep k-means cheap then.
        shift = 8 - bits
        code = (px[:, 0] >> shift) << (2 * bits) | (px[:, 1] >> shift) << bits | (px[:, 2] >> shift)
        count = np.bincount(code, minlength=1 << (3 * bits))
        used = np.flatnonzero(count)
        if len(used) <= _MAX_BINS:
            break
    mean_rgb = (
        np.stack(
            [np.bincount(code, weights=px[:, j], minlength=len(count))[used] for j in range(3)],
            axis=1,
        )
        / count[used, None]
    )
    km = kmeans_lab(srgb_to_lab(mean_rgb), k, weights=count[used].astype(np.float64), seed=seed)
    total = float(km.weights.sum())
    families = families_of_lab(km.centers)
    return [
        DominantColor(hex=lab_to_hex(c), family=f, share=round(float(m) / total, 4))
        for c, f, m in zip(km.centers, families, km.weights, strict=True)
    ]
