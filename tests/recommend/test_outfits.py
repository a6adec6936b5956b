"""Outfit recommendations: wearable, consistent with their scores and explanations, diverse."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from workers.recommend.model import as_garment, as_profile
from workers.recommend.outfits import EXTRA_SLOTS, Recommendation, mmr, recommend_outfits
from workers.recommend.samples import random_wardrobe
from workers.recommend.score import (
    ScoreContext,
    explain,
    score_outfit,
    score_pair,
    top_terms,
)
from workers.recommend.taxonomy import SLOTS, SUBCATEGORY_CATEGORY
from workers.recommend.weather import (
    OUTER_EXCLUDED_ABOVE_C,
    OUTER_REQUIRED_BELOW_C,
    as_weather,
    outer_rule,
    seasons_for,
    warmth_window,
)


def item(gid: str, sub: str, hex_color: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": gid,
        "category": SUBCATEGORY_CATEGORY[sub],
        "subcategory": sub,
        "colors": [{"hex": hex_color}],
        **fields,
    }


WARDROBE = random_wardrobe(150, seed=5)
BY_ID = {g["id"]: as_garment(g) for g in WARDROBE}

WEATHERS: list[dict[str, Any] | None] = [
    None,
    {"temperature_c": -3, "precipitation": True, "wind_kmh": 25},
    {"temperature_c": 9},
    {"temperature_c": 16, "precipitation_mm": 3.0},
    {"temperature_c": 21},
    {"temperature_c": 31},
]
OCCASIONS = [None, "work", "casual", "party", "formal", "sport"]


def assert_wearable(
    recs: list[Recommendation], weather: dict[str, Any] | None, occasion: str | None
) -> None:
    wx = as_weather(weather)
    for rec in recs:
        slots = [i["slot"] for i in rec.items]
        assert len(slots) == len(set(slots)), "one item per slot"
        assert [i["position"] for i in rec.items] == list(range(len(rec.items)))
        assert slots == sorted(slots, key=SLOTS.index), "head-to-toe order"
        core = set(slots) - EXTRA_SLOTS - {"outer"}
        assert core in ({"top", "bottom", "shoes"}, {"dress", "shoes"})
        garments = [BY_ID[i["garment_id"]] for i in rec.items]  # KeyError: not the user's
        assert all(g.slot == i["slot"] for g, i in zip(garments, rec.items, strict=True))
        assert all(g.category != "swimwear" for g in garments)
        rule = outer_rule(wx)
        if rule == "required":
            assert "outer" in slots
        if rule == "excluded":
            assert "outer" not in slots
        if wx is not None:
            for g in garments:
                assert g.seasons & seasons_for(wx), (g.subcategory, g.seasons, weather)
                lo, hi = warmth_window(g.slot, wx)
                assert lo <= g.warmth <= hi, (g.subcategory, g.warmth, weather)
                if g.subcategory == "sandals":
                    assert not wx.wet and wx.feels_like_c >= 15


@pytest.mark.parametrize("weather", WEATHERS)
def test_every_outfit_is_wearable(weather: dict[str, Any] | None) -> None:
    for occasion in OCCASIONS:
        recs = recommend_outfits(WARDROBE, None, occasion=occasion, weather=weather, count=10)
        assert recs, (weather, occasion)
        assert_wearable(recs, weather, occasion)


def test_outer_rule_thresholds() -> None:
    assert outer_rule(as_weather({"temperature_c": OUTER_REQUIRED_BELOW_C - 0.5})) == "required"
    assert outer_rule(as_weather({"temperature_c": OUTER_REQUIRED_BELOW_C + 0.5})) == "optional"
    assert outer_rule(as_weather({"temperature_c": OUTER_EXCLUDED_ABOVE_C + 0.5})) == "excluded"
    # Wind makes 10 °C feel colder; it never warms a day.
    assert as_weather({"temperature_c": 10, "wind_kmh": 40}).feels_like_c < 10  # type: ignore[union-attr]
    assert as_weather({"temperature_c": 25, "wind_kmh": 40}).feels_like_c == 25  # type: ignore[union-attr]
    assert outer_rule(None) == "optional"


def test_no_outfit_when_cold_and_no_coat() -> None:
    no_coats = [g for g in WARDROBE if BY_ID[g["id"]].slot != "outer"]
    coats = [g for g in WARDROBE if BY_ID[g["id"]].slot == "outer"]
    assert coats
    assert recommend_outfits(no_coats, None, weather={"temperature_c": 2}) == []
    assert recommend_outfits(no_coats, None, weather={"temperature_c": 18})


def test_scores_match_terms_and_rescoring() -> None:
    profile = {"preferred_styles": ["classic"], "preferred_colors": ["navy", "#f5f5dc"]}
    weather = {"temperature_c": 8, "precipitation": True}
    liked = {WARDROBE[0]["id"], WARDROBE[1]["id"]}
    recs = recommend_outfits(
        WARDROBE, profile, occasion="work", weather=weather, liked_garment_ids=liked
    )
    ctx = ScoreContext(
        profile=as_profile(profile),
        occasion="work",
        weather=as_weather(weather),
        liked_ids=frozenset(liked),
    )
    for rec in recs:
        assert rec.score == pytest.approx(sum(rec.terms.values()))
        again = score_outfit([BY_ID[i["garment_id"]] for i in rec.items], ctx)
        assert again.total == pytest.approx(rec.score)
        assert again.terms == pytest.approx(rec.terms)


def test_explanation_mentions_the_top_terms() -> None:
    weather = {"temperature_c": 11}
    ctx = ScoreContext(occasion="date", weather=as_weather(weather))
    recs = recommend_outfits(WARDROBE, None, occasion="date", weather=weather)
    assert recs
    for rec in recs:
        scored = score_outfit([BY_ID[i["garment_id"]] for i in rec.items], ctx)
        top = top_terms(rec.terms)
        assert top, rec.terms
        for name in top:
            assert scored.notes[name].lower() in rec.explanation.lower(), (name, rec.explanation)
        # The biggest positive term is the one the explanation leads with.
        lead = max(rec.terms, key=lambda k: rec.terms[k])
        assert rec.explanation.lower().startswith(scored.notes[lead].lower())


def test_explain_orders_terms_and_flags_negatives() -> None:
    terms = {"color": 0.6, "formality": -0.8, "season": 0.01, "weather": 0.3, "occasion": 0.1}
    notes = {
        "color": "navy and beige are a calm neutral pairing",
        "formality": "mixes casual and formal pieces",
        "weather": "suits 12°C with the wool coat",
    }
    text = explain(terms, notes)
    assert text == (
        "Navy and beige are a calm neutral pairing; suits 12°C with the wool coat; "
        "but mixes casual and formal pieces."
    )
    assert explain({"season": 0.01}) == "A balanced outfit."
    assert explain({"color": 0.5}) == "The colours work together."


def test_pair_scores_follow_the_rules() -> None:
    navy_chinos = item("1", "chinos", "#1f2a44", formality=3)
    beige_shirt = item("2", "shirt", "#d9c7a7", formality=3)
    red_shirt = item("3", "shirt", "#c62828", formality=3)
    green_chinos = item("4", "chinos", "#2e8b57", formality=3)
    hoodie = item("5", "hoodie", "#d9c7a7", formality=1)
    floral = item("6", "blouse", "#d9c7a7", pattern="floral", formality=3)
    plaid = item("7", "skirt", "#1f2a44", pattern="animal", formality=3)
    calm = score_pair(beige_shirt, navy_chinos)
    assert "calm neutral pairing" in calm.notes["color"]
    assert calm.terms["color"] > score_pair(red_shirt, green_chinos).terms["color"]
    assert score_pair(red_shirt, navy_chinos).terms["color"] > 0  # neutrals go with everything
    assert score_pair(hoodie, navy_chinos).terms["formality"] < calm.terms["formality"]
    assert (
        score_pair(floral, plaid).terms["pattern"]
        < score_pair(floral, navy_chinos).terms["pattern"]
    )
    # Too many accents: four accent colours in one outfit cost more than one.
    loud = [
        item("a", "t_shirt", "#c62828"),
        item("b", "jeans", "#2e8b57", material="cotton"),
        item("c", "sneakers", "#f2c94c"),
        item("d", "cap", "#7b3f9e"),
    ]
    quiet = [
        item("a", "t_shirt", "#c62828"),
        item("b", "jeans", "#1f2a44"),
        item("c", "sneakers", "#f7f7f5"),
    ]
    assert score_outfit(loud).terms["accents"] < 0 < score_outfit(quiet).terms["accents"]
    assert "too many accent colours" in score_outfit(loud).notes["accents"]


def test_taste_terms() -> None:
    navy = [
        item("1", "shirt", "#1f2a44"),
        item("2", "trousers", "#8c8c8c"),
        item("3", "loafers", "#111111"),
    ]
    red = [
        item("1", "shirt", "#c62828"),
        item("2", "trousers", "#8c8c8c"),
        item("3", "loafers", "#111111"),
    ]
    ctx = ScoreContext(
        profile=as_profile({"preferred_colors": ["navy"], "avoided_colors": ["red"]})
    )
    assert (
        score_outfit(navy, ctx).terms["taste_colors"]
        > 0
        > score_outfit(red, ctx).terms["taste_colors"]
    )
    business = ScoreContext(profile=as_profile({"preferred_styles": ["business"]}))
    sporty = ScoreContext(profile=as_profile({"preferred_styles": ["sporty"]}))
    assert (
        score_outfit(navy, business).terms["taste_style"]
        > score_outfit(navy, sporty).terms["taste_style"]
    )
    worn = [dict(g, wear_count=40) for g in navy]
    assert score_outfit(worn).terms["favorites"] > score_outfit(navy).terms["favorites"]
    liked = ScoreContext(liked_ids=frozenset({"1"}))
    assert score_outfit(navy, liked).terms["favorites"] > score_outfit(navy).terms["favorites"]


def test_no_two_outfits_alike_and_shown_or_worn_are_respected() -> None:
    recs = recommend_outfits(WARDROBE, None, weather={"temperature_c": 17}, count=10)
    assert len(recs) == 10
    looks = [
        frozenset(i["garment_id"] for i in r.items if i["slot"] not in EXTRA_SLOTS) for r in recs
    ]
    assert len(set(looks)) == len(looks)
    shown = {r.garment_ids for r in recs[:4]}
    again = recommend_outfits(WARDROBE, None, weather={"temperature_c": 17}, recently_shown=shown)
    again_looks = {
        frozenset(i["garment_id"] for i in r.items if i["slot"] not in EXTRA_SLOTS) for r in again
    }
    assert not again_looks & set(looks[:4])
    worn = set(recs[0].garment_ids)
    fresh = recommend_outfits(WARDROBE, None, weather={"temperature_c": 17}, recently_worn_ids=worn)
    assert fresh
    assert all(not (r.garment_ids & worn) for r in fresh)


def test_a_wardrobe_with_one_look_shows_it_again_rather_than_nothing() -> None:
    """Not repeating what the user was just shown is a preference: when every look the
    wardrobe can make for the request was in the last batches, repeating one beats nothing."""
    wardrobe = [
        item("shirt", "shirt", "#ffffff", formality=4),
        item("trousers", "trousers", "#222222", formality=4),
        item("oxfords", "oxfords", "#111111", formality=4),
    ]
    first = recommend_outfits(wardrobe, None, occasion="formal", weather={"temperature_c": 18})
    assert [r.garment_ids for r in first] == [frozenset({"shirt", "trousers", "oxfords"})]
    again = recommend_outfits(
        wardrobe,
        None,
        occasion="formal",
        weather={"temperature_c": 18},
        recently_shown={r.garment_ids for r in first},
    )
    assert [r.garment_ids for r in again] == [r.garment_ids for r in first]


def test_mmr_prefers_a_different_second_pick() -> None:
    # 0 and 1 are the same outfit; 2 is different and a little worse; 3 sets the scale.
    relevance = np.array([1.0, 0.99, 0.9, 0.0])
    similarity = np.eye(4)
    similarity[0, 1] = similarity[1, 0] = 1.0
    assert mmr(relevance, similarity, 3, 0.7) == [0, 2, 1]
    assert mmr(relevance, similarity, 3, 1.0) == [0, 1, 2]
    assert mmr(np.array([]), np.zeros((0, 0)), 3, 0.7) == []


def test_recommendations_are_spread_over_the_wardrobe() -> None:
    recs = recommend_outfits(WARDROBE, None, weather={"temperature_c": 19}, count=10)
    tops = [i["garment_id"] for r in recs for i in r.items if i["slot"] in ("top", "dress")]
    assert len(set(tops)) >= 7


@pytest.mark.parametrize("profile", [None, {}, {"preferred_styles": ["minimalist"], "fit": "slim"}])
def test_cold_start(profile: dict[str, Any] | None) -> None:
    recs = recommend_outfits(WARDROBE, profile, weather={"temperature_c": 14}, count=8)
    assert len(recs) == 8
    assert_wearable(recs, {"temperature_c": 14}, None)
    assert all(r.terms["favorites"] >= 0 for r in recs)


def test_deterministic_with_a_seed() -> None:
    def run(seed: int | None) -> list[dict[str, Any]]:
        return [
            r.to_dict()
            for r in recommend_outfits(WARDROBE, None, weather={"temperature_c": 15}, rng_seed=seed)
        ]

    assert run(3) == run(3)
    assert run(None) == run(None)
    seeds = [run(s) for s in range(6)]
    assert any(s != seeds[0] for s in seeds[1:]), "a seed adds some exploration"


def test_unknown_occasion_and_empty_inputs() -> None:
    with pytest.raises(ValueError):
        recommend_outfits(WARDROBE, None, occasion="gala")
    assert recommend_outfits([], None) == []
    assert recommend_outfits(WARDROBE, None, count=0) == []


def test_beach_is_the_only_place_for_swimwear() -> None:
    wardrobe = [
        item("s1", "swimsuit", "#1b8a8a"),
        item("s2", "sandals", "#f7f7f5"),
        item("t1", "t_shirt", "#f7f7f5"),
        item("b1", "shorts", "#1f2a44"),
    ]
    beach = recommend_outfits(wardrobe, None, occasion="beach", weather={"temperature_c": 28})
    assert {"s1", "s2"} in [set(r.garment_ids) for r in beach]
    casual = recommend_outfits(wardrobe, None, occasion="casual", weather={"temperature_c": 28})
    assert casual and all("s1" not in r.garment_ids for r in casual)


def test_beam_finds_the_best_outfit_of_a_small_wardrobe() -> None:
    wardrobe = [
        item("t1", "shirt", "#f7f7f5"), item("t2", "t_shirt", "#c62828", pattern="graphic"),
        item("t3", "sweater", "#1b8a8a"), item("b1", "chinos", "#d9c7a7"),
        item("b2", "jeans", "#3d6fb6"), item("b3", "skirt", "#e8782a", pattern="floral"),
        item("s1", "loafers", "#6b4423"), item("s2", "sneakers", "#f2c94c"),
        item("d1", "midi_dress", "#7b3f9e"), item("d2", "shirt_dress", "#1f2a44"),
        item("o1", "blazer", "#1f2a44"), item("o2", "denim_jacket", "#5b7fa6"),
        item("g1", "tote", "#111111"), item("g2", "clutch", "#c62828"),
    ]  # fmt: skip
    garments = [as_garment(g) for g in wardrobe]
    by_slot: dict[str, list[Any]] = {}
    for g in garments:
        by_slot.setdefault(g.slot, []).append(g)
    ctx = ScoreContext(occasion="work")
    best = -np.inf
    optional = [by_slot["outer"] + [None], by_slot["bag"] + [None]]
    for core in [*itertools.product(by_slot["top"], by_slot["bottom"], by_slot["shoes"]),
                 *itertools.product(by_slot["dress"], by_slot["shoes"])]:  # fmt: skip
        for extra in itertools.product(*optional):
            outfit = [*core, *(g for g in extra if g is not None)]
            best = max(best, score_outfit(outfit, ctx).total)
    recs = recommend_outfits(wardrobe, None, occasion="work", count=5)
    assert recs[0].score == pytest.approx(best)
    assert all(r.score <= best + 1e-9 for r in recs)
