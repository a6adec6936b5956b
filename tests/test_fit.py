"""Size and fit: the recommendation's numerics, charts through the API, and learning."""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drape import fit
from drape.avatar_inputs import DEFAULT_RATIOS, AvatarInputError, validate_measurements
from tests.conftest import Api, User

TOPS = {
    "kind": "body",
    "category": "tops",
    "sizes": [
        {
            "label": label,
            "bust": [80 + 4 * i, 84 + 4 * i],
            "waist": [62 + 4 * i, 66 + 4 * i],
            "shoulder_width": [37 + i, 38 + i],
        }
        for i, label in enumerate(("XS", "S", "M", "L", "XL"))
    ],
}
JEANS = {
    "kind": "garment",
    "category": "bottoms",
    "subcategory": "jeans",
    "ease": "fitted",
    "sizes": [
        {"label": str(w), "waist": 2.54 * w + 4, "hips": 2.54 * w + 26, "inseam": 81}
        for w in range(26, 36)
    ],
}
BODY = {"height": 170, "bust": 90, "waist": 72, "hips": 98, "inseam": 79}


def _body(rng: random.Random) -> dict[str, float]:
    while True:
        height = rng.uniform(150, 195)
        build = rng.uniform(0.8, 1.3)
        m = {
            k: r * height * build * rng.uniform(0.93, 1.07)
            for k, r in DEFAULT_RATIOS["neutral"].items()
        }
        try:
            return validate_measurements({"height": height, **m})
        except AvatarInputError:
            continue


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    grow=st.floats(0.1, 15),
    which=st.sampled_from(["bust", "waist", "hips"]),
)
def test_a_larger_body_never_gets_a_smaller_size(seed: int, grow: float, which: str) -> None:
    rng = random.Random(seed)
    body = _body(rng)
    bigger = {**body, which: body[which] + grow}
    for doc in (
        TOPS,
        JEANS,
        {
            **TOPS,
            "category": "dresses",
            "sizes": [{**s, "hips": [s["bust"][0] + 8, s["bust"][1] + 8]} for s in TOPS["sizes"]],
        },
    ):  # type: ignore[attr-defined]
        chart = fit.parse_chart(doc)
        for offset in (0.0, 0.6, -0.4):
            a, b = (
                fit.recommend(chart, body, offset=offset),
                fit.recommend(chart, bigger, offset=offset),
            )
            if a.index is not None and b.index is not None:
                assert b.index >= a.index, (doc["category"], which, a, b)
                assert b.position is not None and a.position is not None
                assert b.position >= a.position - 1e-9


def test_a_body_gets_the_size_whose_range_it_sits_in() -> None:
    chart = fit.parse_chart(TOPS)
    rec = fit.recommend(chart, {**BODY, "bust": 89, "waist": 71, "shoulder_width": 39.5})
    assert rec.size == "M", rec
    labels = {d.name: d.label for d in rec.dimensions}
    assert labels == {"bust": "fits", "waist": "fits", "shoulder_width": "fits"}
    tight = fit.recommend(chart, {**BODY, "bust": 89, "waist": 71, "shoulder_width": 42})
    shoulder = next(d for d in tight.dimensions if d.name == "shoulder_width")
    assert tight.size == "M" and shoulder.label == "tight" and shoulder.margin_cm == -2.0
    # the choice goes up before the midpoint between M and L (a tight garment is returned more
    # often); at the switch the confidence is near one half, with the other size as alternative
    up = 90 + 4 * fit.UP_FROM + 0.05
    edge = fit.recommend(chart, {**BODY, "bust": up, "waist": up - 18, "shoulder_width": 39.5})
    assert edge.size == "L" and edge.confidence < 0.65 and edge.alternatives == ("M",)
    centre = fit.recommend(chart, {**BODY, "bust": 90, "waist": 72, "shoulder_width": 39.5})
    assert centre.confidence > edge.confidence


def test_a_knit_garment_chart_fits_a_body_larger_than_the_garment() -> None:
    doc = {
        "kind": "garment",
        "category": "tops",
        "ease": "knit",
        "sizes": [{"label": s, "bust": 80 + 6 * i} for i, s in enumerate("SML")],
    }
    rec = fit.recommend(fit.parse_chart(doc), {**BODY, "bust": 90})
    assert rec.size == "M" and rec.dimensions[0].ease_cm == pytest.approx(-0.0)
    # the same garments cut to be worn relaxed fit a body 20 cm smaller (16 cm ease, not -4)
    relaxed = fit.parse_chart({**doc, "ease": "relaxed"})
    assert fit.recommend(relaxed, {**BODY, "bust": 90}).abstained
    assert fit.recommend(relaxed, {**BODY, "bust": 70, "waist": 60}).size == "M"


@pytest.mark.parametrize(
    ("body", "doc", "reason"),
    [
        ({"height": 170, "bust": 90}, TOPS, "no waist"),
        (
            {**BODY, "bust": 60, "waist": 50, "shoulder_width": 30},
            TOPS,
            "smaller than the smallest",
        ),
        (
            {**BODY, "bust": 130, "waist": 110, "shoulder_width": 45},
            TOPS,
            "larger than the largest size (XL) at bust",
        ),
        (
            BODY,
            {"category": "bottoms", "sizes": [{"label": "S", "inseam": [70, 80]}]},
            "none of waist, hips",
        ),
        (
            BODY,
            {
                "category": "tops",
                "sizes": [
                    {"label": s, "bust": [80, 90], "waist": [60 + 6 * i, 70 + 6 * i]}
                    for i, s in enumerate("SM")
                ],
            },
            None,
        ),
    ],
)
def test_abstains_with_the_reason(
    body: dict[str, float], doc: dict[str, Any], reason: str | None
) -> None:
    rec = fit.recommend(fit.parse_chart(doc), body)
    if reason is None:  # bust does not grade there, waist does: it decides
        assert rec.size is not None and rec.abstain_reason is None
        return
    assert rec.size is None and rec.abstained and reason in (rec.abstain_reason or ""), rec


def test_learning_moves_the_offset_towards_what_outcomes_say() -> None:
    small = [fit.Outcome(2, 2.0, "too_small")] * 3
    assert fit.learned_offset(small, fit.USER_PRIOR_SD) > 0.5
    large = [fit.Outcome(2, 2.1, "returned_too_large")] * 3
    assert fit.learned_offset(large, fit.USER_PRIOR_SD) < -0.5
    kept = [fit.Outcome(2, 1.87, "kept")] * 3  # the middle of where M is chosen
    assert abs(fit.learned_offset(kept, fit.USER_PRIOR_SD)) < 0.1
    # one mistaken report among kept ones moves it far less than three agreeing ones
    mixed = [*kept, fit.Outcome(2, 2.0, "too_small")]
    assert 0 <= fit.learned_offset(mixed, fit.USER_PRIOR_SD) < fit.learned_offset(small, 0.5)


BAD_CHARTS = [
    ({"category": "tops", "sizes": []}, "sizes"),
    ({"category": "shoes", "sizes": [{"label": "42", "bust": [1, 2]}]}, "category"),
    ({"category": "tops", "sizes": [{"label": "S", "bust": [90, 80]}]}, "sizes[0].bust"),
    (
        {
            "category": "tops",
            "sizes": [{"label": "S", "bust": [80, 84]}, {"label": "M", "bust": [76, 80]}],
        },
        "sizes[1].bust",
    ),
    (
        {
            "category": "tops",
            "sizes": [{"label": "S", "bust": [80, 84]}, {"label": "S", "bust": [84, 88]}],
        },
        "sizes[1].label",
    ),
    (
        {
            "category": "tops",
            "sizes": [
                {"label": "S", "bust": [80, 84], "waist": [60, 64]},
                {"label": "M", "bust": [84, 88]},
            ],
        },
        "sizes[1].waist",
    ),
    ({"category": "tops", "sizes": [{"label": "S", "shoe": [80, 84]}]}, "sizes[0].shoe"),
    ({"category": "tops", "sizes": [{"label": "S", "bust": "big"}]}, "sizes[0].bust"),
    ({"category": "tops", "sizes": [{"label": "S", "bust": [80, 400]}]}, "sizes[0].bust[1]"),
    (
        {
            "kind": "garment",
            "category": "tops",
            "ease": "snug",
            "sizes": [{"label": "S", "bust": 90}],
        },
        "ease",
    ),
    (
        {"category": "tops", "subcategory": "jeans", "sizes": [{"label": "S", "bust": [80, 84]}]},
        "subcategory",
    ),
]


@pytest.mark.parametrize(("doc", "field"), BAD_CHARTS)
def test_bad_charts_name_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(fit.ChartError) as e:
        fit.parse_chart(doc)
    assert e.value.field == field


# Through the API ---------------------------------------------------------------------------------


async def _garment(api: Api, user: User, category: str = "tops", brand: str = "Acme") -> str:
    r = await api.post(
        "/v1/garments",
        token=user.token,
        json={"name": "a thing", "category": category, "brand": brand},
    )
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def _avatar(api: Api, user: User, body: dict[str, float] = BODY) -> str:
    r = await api.post("/v1/avatars", token=user.token, json={"measurements": body})
    assert r.status == 202, await r.text()
    return str((await r.json())["avatar"]["id"])


@pytest.mark.parametrize(("doc", "field"), [d for d in BAD_CHARTS if d[1] != "category"])
async def test_bad_charts_are_refused_with_422_naming_the_field(
    api: Api, pool: asyncpg.Pool, doc: dict[str, Any], field: str
) -> None:
    user = await api.register("charter")
    gid = await _garment(api, user)
    r = await api.put(f"/v1/garments/{gid}/size-chart", token=user.token, json=doc)
    assert r.status == 422, await r.text()
    assert r.content_type == "application/problem+json"
    assert field in [e["field"] for e in (await r.json())["errors"]], await r.text()
    r = await api.post("/v1/size-charts", token=user.token, json={**doc, "brand": "Acme"})
    assert r.status == 422 and field in [e["field"] for e in (await r.json())["errors"]]
    r = await api.post("/v1/fit", token=user.token, json={"chart": doc})
    assert r.status == 422 and "chart." + field in [e["field"] for e in (await r.json())["errors"]]
    assert await pool.fetchval("SELECT count(*) FROM size_charts") == 0


async def test_the_size_for_my_avatar_from_a_garment_chart(api: Api) -> None:
    user = await api.register("shopper")
    gid = await _garment(api, user)
    r = await api.put(f"/v1/garments/{gid}/size-chart", token=user.token, json=TOPS)
    assert r.status == 200, await r.text()
    chart = await r.json()
    assert chart["garment_id"] == gid and chart["brand"] == "Acme" and chart["bias"] == 0
    r = await api.post("/v1/fit", token=user.token, json={"garment_id": gid})
    assert r.status == 200, await r.text()
    assert (await r.json())["abstain_reason"] == "you have no avatar yet"
    avatar = await _avatar(api, user)
    r = await api.post("/v1/fit", token=user.token, json={"garment_id": gid})
    result = await r.json()
    assert r.status == 200 and result["avatar_id"] == avatar, result
    assert result["body_source"] == "requested" and result["chart_id"] == chart["id"]
    assert result["size"] == "M" and result["abstained"] is False
    assert {d["name"] for d in result["dimensions"]} == {"bust", "waist", "shoulder_width"}
    assert all(d["label"] in ("tight", "fits", "loose") for d in result["dimensions"])
    r = await api.post("/v1/fit", token=user.token, json={"chart": JEANS})
    jeans = await r.json()
    assert r.status == 200 and jeans["chart_id"] is None and jeans["size"] is not None, jeans
    r = await api.post("/v1/fit", token=user.token, json={"chart": TOPS, "garment_id": gid})
    assert r.status == 422, await r.text()


async def test_someone_elses_garment_and_chart_are_not_found(api: Api) -> None:
    owner, other = await api.register("owner"), await api.register("other")
    gid = await _garment(api, owner)
    r = await api.put(f"/v1/garments/{gid}/size-chart", token=owner.token, json=TOPS)
    chart_id = (await r.json())["id"]
    await _avatar(api, other)
    for method, path, body in [
        ("PUT", f"/v1/garments/{gid}/size-chart", TOPS),
        ("GET", f"/v1/garments/{gid}/size-chart", None),
        ("DELETE", f"/v1/garments/{gid}/size-chart", None),
        ("GET", f"/v1/size-charts/{chart_id}", None),
        ("POST", "/v1/fit", {"garment_id": gid}),
        ("POST", "/v1/fit", {"chart_id": chart_id}),
        ("POST", "/v1/fit/feedback", {"chart_id": chart_id, "size": "M", "outcome": "kept"}),
    ]:
        r = await api.request(method, path, token=other.token, json=body)
        assert r.status == 404, (method, path, await r.text())
    r = await api.get(f"/v1/garments/{gid}/size-chart", token=owner.token)
    assert r.status == 200 and (await r.json())["chart"]["sizes"][2]["label"] == "M"
    r = await api.post("/v1/fit", json={"garment_id": gid}, token="")
    assert r.status == 401


async def test_catalogue_charts_are_shared_and_only_their_author_changes_them(api: Api) -> None:
    author, reader = await api.register("brandfan"), await api.register("reader")
    r = await api.post("/v1/size-charts", token=author.token, json={**TOPS, "brand": "Acme"})
    assert r.status == 201, await r.text()
    cid = (await r.json())["id"]
    r = await api.get("/v1/size-charts?brand=acme&category=tops", token=reader.token)
    assert r.status == 200 and [c["id"] for c in (await r.json())["items"]] == [cid]
    r = await api.get("/v1/size-charts?brand=other", token=reader.token)
    assert (await r.json())["items"] == []
    await _avatar(api, reader)
    r = await api.post("/v1/fit", token=reader.token, json={"chart_id": cid})
    assert r.status == 200 and (await r.json())["size"] == "M"
    r = await api.put(f"/v1/size-charts/{cid}", token=reader.token, json={**TOPS, "brand": "X"})
    assert r.status == 403, await r.text()
    r = await api.delete(f"/v1/size-charts/{cid}", token=reader.token)
    assert r.status == 403
    r = await api.put(f"/v1/size-charts/{cid}", token=author.token, json={**JEANS, "brand": "Acme"})
    assert r.status == 200 and (await r.json())["category"] == "bottoms", await r.text()
    r = await api.delete(f"/v1/size-charts/{cid}", token=author.token)
    assert r.status == 204
    r = await api.get(f"/v1/size-charts/{cid}", token=reader.token)
    assert r.status == 404
    # a deleted account's catalogue charts leave everyone's view at once
    r = await api.post("/v1/size-charts", token=author.token, json={**TOPS, "brand": "Acme"})
    cid = (await r.json())["id"]
    r = await api.delete("/v1/me", token=author.token, json={"password": "correct horse battery"})
    assert r.status == 202, await r.text()
    r = await api.get(f"/v1/size-charts/{cid}", token=reader.token)
    assert r.status == 404
    r = await api.get("/v1/size-charts?brand=acme", token=reader.token)
    assert (await r.json())["items"] == []


async def test_outcomes_shift_my_brand_offset_and_the_charts_bias(
    api: Api, pool: asyncpg.Pool
) -> None:
    author, buyer = await api.register("brandco"), await api.register("buyer")
    r = await api.post("/v1/size-charts", token=author.token, json={**TOPS, "brand": "Runs Small"})
    cid = (await r.json())["id"]
    await _avatar(api, buyer, {**BODY, "bust": 89, "waist": 71})
    r = await api.post("/v1/fit", token=buyer.token, json={"chart_id": cid})
    first = await r.json()
    assert first["size"] == "M" and first["user_offset"] == 0, first
    body = {"chart_id": cid, "size": "XXL", "outcome": "too_small"}
    r = await api.post("/v1/fit/feedback", token=buyer.token, json=body)
    assert r.status == 422 and (await r.json())["errors"][0]["field"] == "size"
    for _ in range(3):
        body = {"chart_id": cid, "size": "M", "outcome": "too_small", "dimension": "bust"}
        r = await api.post("/v1/fit/feedback", token=buyer.token, json=body)
        assert r.status == 201, await r.text()
    learned = await r.json()
    assert learned["user_outcomes"] == 3 and learned["brand_key"] == "runs small"
    assert learned["user_offset"] > 0.3 and learned["chart_bias"] > 0.2, learned
    r = await api.post("/v1/fit", token=buyer.token, json={"chart_id": cid})
    after = await r.json()
    assert after["size"] == "L" and after["position"] > first["position"], after
    # a new user of the same chart starts from its bias, not from the first buyer's offset
    newcomer = await api.register("newcomer")
    await _avatar(api, newcomer, {**BODY, "bust": 89, "waist": 71})
    r = await api.post("/v1/fit", token=newcomer.token, json={"chart_id": cid})
    fresh = await r.json()
    assert fresh["user_offset"] == 0 and fresh["chart_bias"] == learned["chart_bias"]
    assert await pool.fetchval("SELECT count(*) FROM fit_outcomes") == 3


async def test_outfit_recommendations_say_which_size_of_a_charted_garment_fits(
    api: Api, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    user = await api.register("outfitter")
    brand = await api.register("acmeco")
    r = await api.post("/v1/size-charts", token=brand.token, json={**TOPS, "brand": "ACME"})
    assert r.status == 201, await r.text()
    top = await _garment(api, user, "tops", brand="acme")  # the catalogue chart of its brand
    jeans = await _garment(api, user, "bottoms", brand="Nobody")  # no chart anywhere
    shoes = {"name": "sneakers", "category": "shoes", "subcategory": "sneakers"}
    r = await api.post("/v1/garments", token=user.token, json=shoes)
    assert r.status == 201, await r.text()
    await _avatar(api, user, {**BODY, "bust": 89, "waist": 71})
    r = await api.post("/v1/recommendations", token=user.token, json={"count": 3})
    assert r.status == 202, await r.text()
    await run_jobs()
    recs = (await (await api.get("/v1/recommendations", token=user.token)).json())["items"]
    items = [i for rec in recs for i in rec["items"]]
    assert recs and {top, jeans} <= {i["garment_id"] for i in items}, recs
    for item in items:
        if item["garment_id"] == top:
            assert item["size"]["label"] == "M" and 0.5 <= item["size"]["confidence"] <= 1
        else:
            assert "size" not in item, item


async def test_the_schema_lists_the_outcomes_drape_knows(pool: asyncpg.Pool) -> None:
    definition = await pool.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1",
        "fit_outcomes_outcome_valid",
    )
    assert sorted(re.findall(r"'([a-z_]+)'::text", definition)) == sorted(fit.OUTCOMES)
