"""Colour maths on numpy arrays: sRGB <-> linear light <-> CIELAB (D65) <-> LCh, and CIEDE2000.

Shared by the numerics of the workers (the recommender's palettes and scores, the avatar preview's
shading). Colours in sRGB are floats or ints on the 0-255 scale; arrays broadcast over leading
axes, so one call converts a whole image or a whole wardrobe. The web process never imports this
module (it names colour families with the plain-Python drape/colors.py).
"""

from __future__ import annotations

from typing import Final

import numpy as np

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


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB 0-1 -> linear light 0-1 (IEC 61966-2-1 transfer function)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB 0-1, clipped to the gamut."""
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0-255 (..., 3) -> CIELAB (..., 3) under D65."""
    linear = srgb_to_linear(np.asarray(rgb, dtype=np.float64) / 255.0)
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
    return linear_to_srgb(linear) * 255.0


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
