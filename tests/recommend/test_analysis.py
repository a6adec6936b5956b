"""Wardrobe analysis: counts checked against brute force, gaps that really add outfits."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest

from workers.recommend.analysis import analyze_wardrobe, gap_candidates
from workers.recommend.features import build_table
from workers.recommend.model import as_garment, as_garments, as_profile
from workers.recommend.samples import random_wardrobe
from workers.recommend.taxonomy import SUBCATEGORY_CATEGORY
from workers.recommend.versatility import compatible, count_outfits


def item(gid: str, sub: str, hex_color: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": gid,
        "category": SUBCATEGORY_CATEGORY[sub],
        "subcategory": sub,
        "colors": [{"hex": hex_color}],
        **fields,
    }


def brute_force(wardrobe: list[dict[str, Any]]) -> tuple[int, int, dict[str, int]]:
    """(core outfits, layered outfits, per-garment counts) by enumerating every combination."""
    garments = as_garments(wardrobe)
    t = build_table(garments)

    def ok(*rows: int) -> bool:
        return all(
            bool(compatible(t, np.array(a), np.array(b)))
            for a, b in itertools.combinations(rows, 2)
        )

    counted = [g.category != "swimwear" for g in garments]
    slot = {
        s: [i for i, g in enumerate(garments) if g.slot == s and counted[i]]
        for s in ("top", "bottom", "dress", "shoes", "outer", "bag", "accessory")
    }
    core: list[tuple[int, ...]] = [
        c for c in itertools.product(slot["top"], slot["bottom"], slot["shoes"]) if ok(*c)
    ]
    core += [c for c in itertools.product(slot["dress"], slot["shoes"]) if ok(*c)]
    per = dict.fromkeys((g.id for g in garments), 0)
    for c in core:
        for i in c:
            per[garments[i].id] += 1
    layered = 0
    for layer in slot["outer"] + slot["bag"] + slot["accessory"]:
        joins = sum(1 for c in core if ok(*c, layer))
        per[garments[layer].id] = joins
        layered += joins if garments[layer].slot == "outer" else 0
    return len(core), layered, per


def test_counts_match_brute_force() -> None:
    wardrobe = random_wardrobe(40, seed=11)
    total, layered, per = brute_force(wardrobe)
    assert total > 20  # the check means something
    result = analyze_wardrobe(wardrobe)
    assert result["outfits"] == {"count": total, "layered_count": layered}
    assert {v["garment_id"]: v["outfits"] for v in result["versatility"]} == per


def test_output_is_json_and_complete() -> None:
    wardrobe = random_wardrobe(80, seed=3)
    worn = [[wardrobe[0]["id"], wardrobe[30]["id"]], {"items": [{"garment_id": wardrobe[1]["id"]}]}]
    result = analyze_wardrobe(wardrobe, {"preferred_styles": ["classic"]}, outfits_worn=worn)
    assert json.loads(json.dumps(result)) == result
    assert (
        analyze_wardrobe(wardrobe, {"preferred_styles": ["classic"]}, outfits_worn=worn) == result
    )
    assert result["garment_count"] == 80
    assert sum(c["count"] for c in result["categories"].values()) == 80
    assert sum(result["formality"]["counts"].values()) == 80
    palette = result["palette"]
    assert sum(c["share"] for c in palette["colors"]) == pytest.approx(1.0, abs=1e-3)
    assert palette["neutral_share"] + palette["accent_share"] == pytest.approx(1.0)
    assert set(result["seasons"]) == {"spring", "summer", "autumn", "winter"}
    assert result["styles"]["profile_match"] is not None
    assert result["worn_outfits"]["logged"] == 2
    assert result["worn_outfits"]["garments_never_in_a_logged_outfit"] == 77


def test_gap_suggestions_add_the_outfits_they_promise() -> None:
    wardrobe = random_wardrobe(60, seed=4)
    before = analyze_wardrobe(wardrobe)
    gaps = before["gaps"]
    assert gaps["pieces"] and gaps["layers"]
    for kind, key in (("pieces", "count"), ("layers", "layered_count")):
        counts = [g["new_outfits"] for g in gaps[kind]]
        assert counts == sorted(counts, reverse=True)
        for gap in gaps[kind]:
            assert gap["new_outfits"] > 0
            added = {
                "id": "new",
                "category": gap["category"],
                "subcategory": gap["subcategory"],
                "colors": [gap["color"]],
                "material": gap["material"],
                "formality": gap["formality"],
                "warmth": gap["warmth"],
                "seasons": gap["seasons"],
            }
            after = analyze_wardrobe([*wardrobe, added])
            assert after["outfits"][key] == before["outfits"][key] + gap["new_outfits"], gap


def test_gaps_fill_an_obvious_hole() -> None:
    # Tops and bottoms but no shoes: every suggested piece is shoes, and names a concrete item.
    wardrobe = [
        item("t1", "shirt", "#f7f7f5", formality=3),
        item("t2", "sweater", "#8c8c8c", formality=3),
        item("b1", "trousers", "#1f2a44", formality=3),
        item("b2", "chinos", "#d9c7a7", formality=3),
    ]
    result = analyze_wardrobe(wardrobe)
    assert result["outfits"]["count"] == 0
    pieces = result["gaps"]["pieces"]
    assert pieces and pieces[0]["slot"] == "shoes"
    assert pieces[0]["new_outfits"] == 4  # completes every top x bottom pair
    assert "formality" in pieces[0]["description"]


def test_gap_candidates_skip_owned_and_avoided() -> None:
    wardrobe = as_garments([item("s1", "loafers", "#111111")])
    profile = as_profile({"avoided_colors": ["red"]})
    names = {(g.subcategory, g.colors[0].family) for g in gap_candidates(wardrobe, profile)}
    assert ("loafers", "black") not in names
    assert ("loafers", "brown") in names
    assert not any(family == "red" for _, family in names)


def test_archetypes_recognise_a_clear_style() -> None:
    street = [
        item("1", "hoodie", "#111111", pattern="graphic"),
        item("2", "cargo_pants", "#6b6b2a"),
        item("3", "sneakers", "#f7f7f5"),
        item("4", "cap", "#111111"),
        item("5", "bomber_jacket", "#111111"),
    ]
    suit = [
        item("1", "blazer", "#1f2a44", formality=5),
        item("2", "trousers", "#1f2a44", formality=5),
        item("3", "shirt", "#f7f7f5", formality=4),
        item("4", "oxfords", "#111111"),
        item("5", "tie", "#7a1f2b"),
    ]
    assert analyze_wardrobe(street)["styles"]["top"][0] == "streetwear"
    result = analyze_wardrobe(suit, {"preferred_styles": ["business"]})
    assert result["styles"]["top"][0] == "business"
    assert result["styles"]["profile_match"] == result["styles"]["scores"]["business"]


def test_palette_of_neutrals_and_one_accent() -> None:
    wardrobe = [
        item(str(i), "t_shirt", h)
        for i, h in enumerate(["#111111"] * 6 + ["#f7f7f5"] * 3 + ["#c62828"])
    ]
    palette = analyze_wardrobe(wardrobe)["palette"]
    assert palette["neutral_share"] == pytest.approx(0.9)
    families = {c["family"]: c for c in palette["colors"]}
    assert set(families) == {"black", "white", "red"}
    assert families["black"]["share"] == pytest.approx(0.6)
    assert not families["red"]["neutral"] and families["white"]["neutral"]


def test_wear_statistics() -> None:
    wardrobe = [
        item("a", "shirt", "#f7f7f5", wear_count=30, price=60.0),
        item("b", "jeans", "#3d6fb6", wear_count=2, price=100.0),
        item("c", "loafers", "#111111", wear_count=0, price=150.0),
        item("d", "tote", "#111111", wear_count=5),
    ]
    wear = analyze_wardrobe(wardrobe)["wear"]
    assert [w["garment_id"] for w in wear["most_worn"]] == ["a", "d", "b", "c"]
    assert wear["least_worn"][0]["garment_id"] == "c"
    assert wear["never_worn"] == 1
    assert [w["garment_id"] for w in wear["cost_per_wear"]["highest"]] == ["c", "b", "a"]
    assert wear["cost_per_wear"]["highest"][0]["cost_per_wear"] == 150.0
    assert wear["cost_per_wear"]["median"] == 50.0


def test_season_coverage_counts_outfits_per_season() -> None:
    wardrobe = random_wardrobe(50, seed=8)
    result = analyze_wardrobe(wardrobe)
    table = build_table([as_garment(g) for g in wardrobe])
    for season, cov in result["seasons"].items():
        mask = np.array([season in as_garment(g).seasons for g in wardrobe])
        assert cov == {"garments": int(mask.sum()), "outfits": count_outfits(table, mask).outfits}
    assert result["outfits"]["count"] >= max(c["outfits"] for c in result["seasons"].values())


def test_empty_wardrobe() -> None:
    result = analyze_wardrobe([])
    assert result["garment_count"] == 0
    assert result["outfits"] == {"count": 0, "layered_count": 0}
    assert result["palette"]["colors"] == []
    assert json.loads(json.dumps(result)) == result
