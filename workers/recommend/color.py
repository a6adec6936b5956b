"""Colour maths for the recommender: sRGB <-> CIELAB (D65) <-> LCh, CIEDE2000, neutrals, families,
and a seeded k-means in CIELAB for palettes and an image's dominant colours.

Pure numpy. Colours in sRGB are floats or ints on the 0-255 scale; arrays broadcast over leading
axes, so one call converts a whole image or a whole wardrobe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypedDict

import numpy as np

from workers.recommend.taxonomy import FAMILY_ANCHORS, NEUTRAL_FAMILIES

# sRGB primaries to XYZ under D65 (IEC 61966-2-1), and the D65 white point with Y = 1.
_RGB_TO_XYZ: Final = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_XYZ_TO_RGB: Final = np.linalg.inv(_RGB_TO_XYZ)
D65_WHITE: Final = _RGB_TO_XYZ.sum(axis=1)  # what sRGB white maps to: exactly L* = 100
_EPS: Final = (6 / 29) ** 3
_KAPPA: Final = 3 * (6 / 29) ** 2

# Below this chroma a colour reads as grey whatever its nominal hue.
NEUTRAL_CHROMA: Final = 10.0


def hex_to_rgb(hex_color: str) -> np.ndarray:
    """'#rrggbb' (or 'rrggbb', or '#rgb') -> float array of 0-255 values."""
    h = hex_color.strip().lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    if len(h) != 6:
        raise ValueError(f"not a hex colour: {hex_color!r}")
    try:
        return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)
    except ValueError:
        raise ValueError(f"not a hex colour: {hex_color!r}") from None


def rgb_to_hex(rgb: np.ndarray) -> str:
    r, g, b = (round(float(np.clip(v, 0, 255))) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0-255 (..., 3) -> CIELAB (..., 3) under D65."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / D65_WHITE
    f = np.where(xyz > _EPS, np.cbrt(xyz), xyz / _KAPPA + 4 / 29)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (..., 3) -> sRGB 0-255 floats, clipped to the gamut."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f > 6 / 29, f**3, _KAPPA * (f - 4 / 29)) * D65_WHITE
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
    c = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return c * 255.0


def hex_to_lab(hex_color: str) -> np.ndarray:
    return srgb_to_lab(hex_to_rgb(hex_color))


def lab_to_hex(lab: np.ndarray) -> str:
    return rgb_to_hex(lab_to_srgb(lab))


def lab_to_lch(lab: np.ndarray) -> np.ndarray:
    """CIELAB -> (L, C, h) with h in degrees [0, 360)."""
    lab = np.asarray(lab, dtype=np.float64)
    c = np.hypot(lab[..., 1], lab[..., 2])
    h = np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360.0
    return np.stack([lab[..., 0], c, h], axis=-1)


def lch_to_lab(lch: np.ndarray) -> np.ndarray:
    lch = np.asarray(lch, dtype=np.float64)
    h = np.radians(lch[..., 2])
    return np.stack([lch[..., 0], lch[..., 1] * np.cos(h), lch[..., 1] * np.sin(h)], axis=-1)


def hue_difference(h1: np.ndarray | float, h2: np.ndarray | float) -> np.ndarray:
    """Smallest angle between two hues in [0, 360), in degrees [0, 180]."""
    d = np.abs(np.asarray(h1, dtype=np.float64) - np.asarray(h2, dtype=np.float64))
    return np.minimum(d, 360.0 - d)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1), broadcasting over leading axes.

    Follows Sharma, Wu & Dalal (2005), including their notes on hue angles at zero chroma.
    """
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    c_bar7 = c_bar**7
    g = 0.5 * (1 - np.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    zero = (c1p * c2p) == 0

    dl = l2 - l1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(zero, 0.0, dh)
    d_hh = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)

    l_bar = (l1 + l2) / 2
    cp_bar = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(
        np.abs(h1p - h2p) <= 180,
        h_sum / 2,
        np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
    )
    h_bar = np.where(zero, h_sum, h_bar)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    cp_bar7 = cp_bar**7
    r_c = 2 * np.sqrt(cp_bar7 / (cp_bar7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt(
        (dl / s_l) ** 2 + (dc / s_c) ** 2 + (d_hh / s_h) ** 2 + r_t * (dc / s_c) * (d_hh / s_h)
    )


# Anchors in CIELAB, flattened once: row i belongs to family _ANCHOR_FAMILY[i].
_ANCHOR_FAMILY: Final = tuple(f for f, hexes in FAMILY_ANCHORS.items() for _ in hexes)
_ANCHOR_LAB: Final = np.array([hex_to_lab(h) for hexes in FAMILY_ANCHORS.values() for h in hexes])


def families_of_lab(lab: np.ndarray) -> list[str]:
    """Colour family of each CIELAB row (N, 3)."""
    lab = np.atleast_2d(np.asarray(lab, dtype=np.float64))
    d = ciede2000(lab[:, None, :], _ANCHOR_LAB[None, :, :])
    return [_ANCHOR_FAMILY[i] for i in np.argmin(d, axis=1)]


def color_family(hex_color: str) -> str:
    """The family name of a '#rrggbb' colour: its nearest family anchor by CIEDE2000."""
    return families_of_lab(hex_to_lab(hex_color))[0]


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
