"""Garments as column arrays, so scoring terms are computed for all pairs at once with numpy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from workers.recommend.color import hex_to_rgb, lab_to_lch, neutral_by, srgb_to_lab
from workers.recommend.model import Garment
from workers.recommend.style import feature_matrix
from workers.recommend.taxonomy import (
    COLOR_FAMILIES,
    PATTERN_BUSYNESS,
    SEASONS,
    SLOT_INDEX,
)

FAMILY_BIT: Final = {f: 1 << i for i, f in enumerate(COLOR_FAMILIES)}
SEASON_BIT: Final = {s: 1 << i for i, s in enumerate(SEASONS)}
# Blue and navy denim is worn as a neutral: jeans go with everything.
DENIM_NEUTRAL_FAMILIES: Final = frozenset({"blue", "navy"})


@dataclass(frozen=True, slots=True, eq=False)
class GarmentTable:
    garments: tuple[Garment, ...]
    slot: np.ndarray  # (N,) index into taxonomy.SLOTS
    formality: np.ndarray  # (N,) int 1-5
    warmth: np.ndarray  # (N,) int
    season_mask: np.ndarray  # (N,) bits of taxonomy.SEASONS
    lab: np.ndarray  # (N, 3) main colour
    lch: np.ndarray  # (N, 3) main colour
    neutral: np.ndarray  # (N,) bool: the main colour works as a neutral
    accent_mask: np.ndarray  # (N,) bits of the non-neutral colour families the garment shows
    busyness: np.ndarray  # (N,) int pattern loudness 0-3
    style: np.ndarray  # (N, F) unit style-feature rows (style.VOCAB)

    def __len__(self) -> int:
        return len(self.garments)


def is_neutral_color(family: str, chroma: float, material: str) -> bool:
    return neutral_by(family, chroma) or (material == "denim" and family in DENIM_NEUTRAL_FAMILIES)


def build_table(garments: Sequence[Garment]) -> GarmentTable:
    n = len(garments)
    # Every colour of every garment in one conversion; row first[i] is garment i's main colour.
    flat = [(i, rank, c) for i, g in enumerate(garments) for rank, c in enumerate(g.colors)]
    rgb = np.array([hex_to_rgb(c.hex) for _, _, c in flat]).reshape(-1, 3)
    all_lab = srgb_to_lab(rgb)
    all_lch = lab_to_lch(all_lab)
    first = np.array([row for row, (_, rank, _) in enumerate(flat) if rank == 0], dtype=np.int64)
    neutral = np.zeros(n, dtype=bool)
    accent = np.zeros(n, dtype=np.int64)
    for row, (i, rank, c) in enumerate(flat):
        # The denim exception applies to the fabric's own colour, not to a print on it.
        material = garments[i].material if rank == 0 else ""
        if is_neutral_color(c.family, float(all_lch[row, 1]), material):
            neutral[i] |= rank == 0
        else:
            accent[i] |= FAMILY_BIT[c.family]
    style = feature_matrix(garments)
    style /= np.maximum(np.linalg.norm(style, axis=1, keepdims=True), 1e-12)
    return GarmentTable(
        garments=tuple(garments),
        slot=np.array([SLOT_INDEX[g.slot] for g in garments], dtype=np.int64),
        formality=np.array([g.formality for g in garments], dtype=np.int64),
        warmth=np.array([g.warmth for g in garments], dtype=np.int64),
        season_mask=np.array(
            [sum(SEASON_BIT[s] for s in g.seasons) for g in garments], dtype=np.int64
        ),
        lab=all_lab[first].reshape(n, 3),
        lch=all_lch[first].reshape(n, 3),
        neutral=neutral,
        accent_mask=accent,
        busyness=np.array([PATTERN_BUSYNESS.get(g.pattern, 1) for g in garments], dtype=np.int64),
        style=style,
    )


def families_in(mask: int) -> list[str]:
    return [f for f, bit in FAMILY_BIT.items() if mask & bit]


def seasons_in(mask: int) -> list[str]:
    return [s for s, bit in SEASON_BIT.items() if mask & bit]
