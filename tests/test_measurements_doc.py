"""Avatar measurements as a typed, documented model (finding 3): names, units, ranges and the
one required; `chest` for `bust`; unknown names answered with the valid ones; refusals over
derived values explained."""

from __future__ import annotations

from drape.avatar_inputs import MEASUREMENT_NAMES, MEASUREMENT_RANGES
from tests.conftest import Api


async def test_the_document_names_every_measurement_with_unit_and_range(api: Api) -> None:
    spec = await (await api.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    model = schemas["AvatarMeasurements"]
    assert model["required"] == ["height"]
    assert set(model["properties"]) == set(MEASUREMENT_NAMES)
    for name, (lo, hi) in MEASUREMENT_RANGES.items():
        prop = model["properties"][name]
        assert "cm" in prop["description"], name
        assert prop["minimum"] == lo, prop
        assert prop["maximum"] == hi, name
    assert "chest" in model["properties"]["bust"]["description"]
    create = schemas["AvatarIn"]["properties"]["measurements"]
    assert create == {"$ref": "#/components/schemas/AvatarMeasurements"}


async def test_chest_is_bust_and_unknown_names_list_the_valid_ones(api: Api) -> None:
    user = await api.register("tailor")
    r = await api.post("/v1/avatars", token=user.token,
                       json={"measurements": {"height": 170, "chest": 92}})  # fmt: skip
    assert r.status == 202, await r.text()
    assert (await r.json())["avatar"]["measurements"]["bust"] == 92
    r = await api.post("/v1/avatars", token=user.token,
                       json={"measurements": {"height": 170, "shoe_size": 42}})  # fmt: skip
    assert r.status == 422, await r.text()
    [error] = (await r.json())["errors"]
    assert error["field"] == "shoe_size"
    message = error["message"]
    for name in MEASUREMENT_NAMES:
        assert name in message, (name, message)


async def test_a_refusal_over_a_derived_value_says_so(api: Api) -> None:
    user = await api.register("derived")
    r = await api.post("/v1/avatars", token=user.token,
                       json={"measurements": {"height": 170, "waist": 110}})  # fmt: skip
    assert r.status == 422, await r.text()
    errors = (await r.json())["errors"]
    assert any("not sent" in e["message"] and "override" in e["message"] for e in errors), errors
