"""The one colour-family namer, in plain Python so the web process names colours without numpy.

A colour's family is the family of its nearest anchor (drape/taxonomy.py FAMILY_ANCHORS) by
CIEDE2000 (Sharma, Wu & Dalal 2005) in CIELAB under D65. The recommender names the centres of its
palettes with `family_of_lab`; its vectorised conversions (drape/colorspace.py) are checked
against these in tests/recommend/test_color.py.
"""

from __future__ import annotations

import functools
import math
import re

from drape.taxonomy import FAMILY_ANCHORS

HEX_RE = re.compile(r"^#[0-9a-fA-F]{6}$")

_RGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_WHITE = tuple(sum(row) for row in _RGB_TO_XYZ)
_EPS = (6 / 29) ** 3
_KAPPA = 3 * (6 / 29) ** 2

Lab = tuple[float, float, float]


def hex_to_lab(hex_color: str) -> Lab:
    if not HEX_RE.match(hex_color):
        raise ValueError(f"not a #rrggbb colour: {hex_color!r}")
    channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    f = []
    for row, white in zip(_RGB_TO_XYZ, _WHITE, strict=True):
        t = sum(m * c for m, c in zip(row, linear, strict=True)) / white
        f.append(t ** (1 / 3) if t > _EPS else t / _KAPPA + 4 / 29)
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def ciede2000(lab1: Lab, lab2: Lab) -> float:
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c_bar7 = ((math.hypot(a1, b1) + math.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - math.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360.0
    zero = c1p * c2p == 0

    dh = h2p - h1p
    dh = 0.0 if zero else dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    d_hh = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh) / 2)

    l_bar = (l1 + l2) / 2
    cp_bar = (c1p + c2p) / 2
    h_sum = h1p + h2p
    if zero:
        h_bar = h_sum
    elif abs(h1p - h2p) <= 180:
        h_bar = h_sum / 2
    else:
        h_bar = (h_sum + 360) / 2 if h_sum < 360 else (h_sum - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_bar - 30))
        + 0.24 * math.cos(math.radians(2 * h_bar))
        + 0.32 * math.cos(math.radians(3 * h_bar + 6))
        - 0.20 * math.cos(math.radians(4 * h_bar - 63))
    )
    d_theta = 30 * math.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_bar**7 / (cp_bar**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    dl, dc = (l2 - l1) / s_l, (c2p - c1p) / s_c
    dhh = d_hh / s_h
    return math.sqrt(dl**2 + dc**2 + dhh**2 + r_t * dc * dhh)


@functools.cache
def _anchors() -> tuple[tuple[str, Lab], ...]:
    return tuple((fam, hex_to_lab(h)) for fam, hexes in FAMILY_ANCHORS.items() for h in hexes)


def family_of_lab(lab: Lab) -> str:
    """The family of a CIELAB colour: the family of its nearest anchor."""
    return min(_anchors(), key=lambda anchor: ciede2000(lab, anchor[1]))[0]


@functools.lru_cache(maxsize=4096)
def color_family(hex_color: str) -> str:
    """The family of a '#rrggbb' colour."""
    return family_of_lab(hex_to_lab(hex_color.lower()))
