"""Colour maths: conversions against reference values, CIEDE2000 against Sharma et al., k-means."""

from __future__ import annotations

import numpy as np
import pytest

from drape import colors
from workers.recommend.color import (
    ciede2000,
    color_family,
    dominant_colors,
    hex_to_lab,
    hex_to_rgb,
    is_neutral,
    kmeans_lab,
    lab_to_hex,
    lab_to_lch,
    lab_to_srgb,
    lch_to_lab,
    srgb_to_lab,
)


@pytest.mark.parametrize(
    ("hex_color", "lab"),
    [
        # Bruce Lindbloom's calculator, sRGB, D65, no adaptation.
        ("#ffffff", (100.0, 0.0, 0.0)),
        ("#000000", (0.0, 0.0, 0.0)),
        ("#ff0000", (53.2408, 80.0925, 67.2032)),
        ("#00ff00", (87.7347, -86.1827, 83.1793)),
        ("#0000ff", (32.2970, 79.1875, -107.8602)),
        ("#808080", (53.5850, 0.0, 0.0)),
    ],
)
def test_srgb_to_lab_reference_values(hex_color: str, lab: tuple[float, float, float]) -> None:
    np.testing.assert_allclose(hex_to_lab(hex_color), lab, atol=2e-3)


def test_lab_round_trips_through_srgb_hex_and_lch() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(500, 3)).astype(np.float64)
    lab = srgb_to_lab(rgb)
    np.testing.assert_allclose(lab_to_srgb(lab), rgb, atol=1e-6)
    np.testing.assert_allclose(lch_to_lab(lab_to_lch(lab)), lab, atol=1e-9)
    for row in rgb[:50]:
        hex_color = "#" + "".join(f"{int(v):02x}" for v in row)
        assert lab_to_hex(hex_to_lab(hex_color)) == hex_color


def test_hex_parsing() -> None:
    np.testing.assert_array_equal(hex_to_rgb("#fff"), [255, 255, 255])
    np.testing.assert_array_equal(hex_to_rgb("1a2B3c"), [26, 43, 60])
    with pytest.raises(ValueError):
        hex_to_rgb("#12345")
    with pytest.raises(ValueError):
        hex_to_rgb("#zzzzzz")


# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Table 1 (pair number in comments).
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),  # 1
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),  # 2
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),  # 3
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),  # 4
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),  # 7
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),  # 13
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),  # 15
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),  # 19
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),  # 20
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),  # 21
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),  # 22
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),  # 23
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),  # 24
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),  # 25
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),  # 29
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),  # 30
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),  # 32
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),  # 33
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),  # 35
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),  # 37
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),  # 38
]


def test_ciede2000_matches_sharma_test_data() -> None:
    a = np.array([p[0] for p in SHARMA])
    b = np.array([p[1] for p in SHARMA])
    expected = np.array([p[2] for p in SHARMA])
    np.testing.assert_allclose(ciede2000(a, b), expected, atol=1e-4)
    np.testing.assert_allclose(ciede2000(b, a), expected, atol=1e-4)  # symmetric


def test_ciede2000_broadcasts_to_a_matrix() -> None:
    a = np.array([p[0] for p in SHARMA])
    d = ciede2000(a[:, None, :], a[None, :, :])
    assert d.shape == (len(a), len(a))
    np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-9)


@pytest.mark.parametrize(
    ("hex_color", "family"),
    [
        ("#000080", "navy"),
        ("#1b2a47", "navy"),
        ("#f5f5dc", "beige"),
        ("#c3b091", "beige"),
        ("#808080", "gray"),
        ("#c0c0c0", "gray"),
        ("#0a0a0a", "black"),
        ("#fdfdfd", "white"),
        ("#e32636", "red"),
        ("#800020", "burgundy"),
        ("#556b2f", "olive"),
        ("#008080", "teal"),
        ("#ffc0cb", "pink"),
        ("#7b3f00", "brown"),
        ("#4169e1", "blue"),
        ("#ffa500", "orange"),
        ("#ffd700", "yellow"),
        ("#228b22", "green"),
        ("#800080", "purple"),
    ],
)
def test_color_family_names(hex_color: str, family: str) -> None:
    assert color_family(hex_color) == family
    assert colors.color_family(hex_color) == family


def test_neutral_detection() -> None:
    assert is_neutral(hex_to_lab("#777777"))
    assert is_neutral(hex_to_lab("#000080"), "navy")  # saturated, but worn as a neutral
    assert is_neutral(hex_to_lab("#d9c7a7"), "beige")
    assert not is_neutral(hex_to_lab("#e32636"), "red")
    assert not is_neutral(hex_to_lab("#228b22"))


def _planted(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = np.array([[30.0, 40.0, 20.0], [70.0, -30.0, 50.0], [50.0, 10.0, -60.0], [90.0, 0, 5]])
    truth = rng.integers(0, len(centers), 600)
    points = centers[truth] + rng.normal(0, 2.0, (600, 3))
    return centers, truth, points


def test_kmeans_recovers_planted_clusters() -> None:
    centers, truth, points = _planted(1)
    km = kmeans_lab(points, 4, seed=7)
    # Match each found centre to its nearest planted one: a permutation, each within noise.
    match = np.argmin(((km.centers[:, None] - centers[None]) ** 2).sum(-1), axis=1)
    assert sorted(match) == [0, 1, 2, 3]
    np.testing.assert_allclose(km.centers, centers[match], atol=0.6)
    assert (match[km.labels] == truth).all()
    assert km.weights.sum() == pytest.approx(600)
    assert list(km.weights) == sorted(km.weights, reverse=True)


def test_kmeans_is_deterministic_and_weighted() -> None:
    _, _, points = _planted(2)
    a, b = kmeans_lab(points, 4, seed=3), kmeans_lab(points, 4, seed=3)
    np.testing.assert_array_equal(a.centers, b.centers)
    np.testing.assert_array_equal(a.labels, b.labels)
    # One cluster, weighted: the centre is the weighted mean.
    pts = np.array([[10.0, 0, 0], [20.0, 0, 0]])
    km = kmeans_lab(pts, 1, weights=np.array([3.0, 1.0]))
    np.testing.assert_allclose(km.centers[0], [12.5, 0, 0])


def test_kmeans_with_fewer_distinct_points_than_k() -> None:
    km = kmeans_lab(np.array([[50.0, 0, 0]] * 5 + [[20.0, 5, 5]] * 2), 6)
    assert len(km.centers) == 2
    with pytest.raises(ValueError):
        kmeans_lab(np.zeros((0, 3)), 3)


def test_dominant_colors_of_an_image() -> None:
    img = np.zeros((128, 128, 3), dtype=np.uint8)
    img[:64] = (20, 30, 80)  # navy, 50 %
    img[64:, :96] = (200, 180, 150)  # beige, 37.5 %
    img[64:, 96:] = (200, 20, 30)  # red, 12.5 %
    img = np.clip(img + np.random.default_rng(0).normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    colors = dominant_colors(img, 3)
    assert [c["family"] for c in colors] == ["navy", "beige", "red"]
    np.testing.assert_allclose([c["share"] for c in colors], [0.5, 0.375, 0.125], atol=0.01)
    assert all(c["hex"].startswith("#") and len(c["hex"]) == 7 for c in colors)
    # Flattened pixels give the same answer.
    assert dominant_colors(img.reshape(-1, 3), 3) == colors


def test_dominant_colors_ignores_transparent_pixels() -> None:
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[..., :3] = (255, 255, 255)  # white background, fully transparent
    rgba[16:48, 16:48] = (30, 90, 40, 255)  # the garment
    colors = dominant_colors(rgba, 2)
    assert len(colors) == 1
    assert colors[0]["family"] == "green"
    assert colors[0]["share"] == 1.0
    assert dominant_colors(np.zeros((4, 4, 4), np.uint8), 3) == []
