"""Names that misled now say what they mean (finding 8): enums for statuses and subcategories,
the upload form described, the private list's refusal coded and explained."""

from __future__ import annotations

from tests.conftest import Api
from tests.wardrobe_helpers import garment


async def test_statuses_and_subcategories_are_enums(api: Api) -> None:
    schemas = (await (await api.get("/openapi.json")).json())["components"]["schemas"]
    assert schemas["Job"]["properties"]["status"]["enum"] == ["queued", "running", "done", "failed"]
    assert schemas["Avatar"]["properties"]["status"]["enum"] == [
        "pending", "processing", "ready", "failed",
    ]  # fmt: skip
    sub = schemas["GarmentIn"]["properties"]["subcategory"]["anyOf"][0]
    assert "t_shirt" in sub["enum"] and "coat" in sub["enum"]
    assert "outer" in schemas["Garment"]["properties"]["category"]["description"]


async def test_the_upload_answer_says_how_to_send_the_file(api: Api) -> None:
    spec = await (await api.get("/openapi.json")).json()
    described = spec["components"]["schemas"]["PresignedUpload"]["description"]
    assert "multipart/form-data" in described and "LAST" in described
    user = await api.register("uploader")
    g = await garment(api, user)
    r = await api.post(f"/v1/garments/{g['id']}/image", token=user.token,
                       json={"content_type": "image/png"})  # fmt: skip
    assert r.status in (200, 201), await r.text()
    form = await r.json()
    assert (form["encoding"], form["file_field"], form["method"]) == (
        "multipart/form-data", "file", "POST",
    )  # fmt: skip


async def test_a_private_accounts_list_is_coded_and_explained(api: Api) -> None:
    owner, stranger = await api.register("hermit"), await api.register("visitor")
    assert (await api.patch("/v1/me", token=owner.token, json={"is_private": True})).status == 200
    r = await api.get("/v1/posts?author=hermit", token=stranger.token)
    assert r.status == 403, await r.text()
    assert (await r.json())["code"] == "private_account"
    spec = await (await api.get("/openapi.json")).json()
    assert "private_account" in spec["paths"]["/v1/posts"]["get"]["description"]
