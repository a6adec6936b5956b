"""One vocabulary: the database CHECKs list exactly the values drape/ validates against, and the
recommender knows every occasion an outfit can carry."""

from __future__ import annotations

import re

import asyncpg
import pytest

from drape import taxonomy, vocab
from workers.recommend import taxonomy as recommender

CHECKS = {
    "outfits_occasion_valid": vocab.OCCASIONS,
    "style_profiles_occasions_valid": vocab.OCCASIONS,
    "ai_recommendations_occasion_valid": vocab.OCCASIONS,
    "garments_category_valid": tuple(taxonomy.CATEGORIES),
    "garments_pattern_valid": taxonomy.PATTERNS,
    "garments_seasons_valid": vocab.SEASONS,
    "outfits_seasons_valid": vocab.SEASONS,
    "outfit_items_slot_valid": taxonomy.SLOTS,
    "style_profiles_fit_valid": vocab.FITS,
    "style_profiles_body_shape_valid": vocab.BODY_SHAPES,
    "user_profiles_gender_valid": vocab.GENDERS,
}


@pytest.mark.parametrize("constraint", sorted(CHECKS))
async def test_schema_checks_list_the_vocabulary(pool: asyncpg.Pool, constraint: str) -> None:
    definition = await pool.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1", constraint
    )
    assert definition is not None, f"no constraint {constraint}"
    assert sorted(set(re.findall(r"'([a-z_]+)'::text", definition))) == sorted(CHECKS[constraint])


def test_the_recommender_knows_every_occasion() -> None:
    assert tuple(recommender.OCCASIONS) == vocab.OCCASIONS
    assert {"lounge", "beach"} <= set(vocab.OCCASIONS)
    for lo, hi in vocab.OCCASION_FORMALITY.values():
        assert 1 <= lo <= hi <= 5
