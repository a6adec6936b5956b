"""Problems carry a stable machine `code` and a `type` the API itself explains (finding 5)."""

from __future__ import annotations

import ast
import pathlib

from server.errors import PROBLEM_TYPES
from tests.conftest import Api

ROOT = pathlib.Path(__file__).resolve().parent.parent


async def _problem(r: object) -> dict[str, object]:
    import aiohttp

    assert isinstance(r, aiohttp.ClientResponse)
    assert r.headers["Content-Type"].startswith("application/problem+json"), await r.text()
    body = await r.json()
    assert body["type"] == f"/problems/{body['code']}", body
    assert body["code"] in PROBLEM_TYPES, body
    return body  # type: ignore[no-any-return]


async def test_a_logout_and_a_reused_token_answer_with_distinct_codes(api: Api) -> None:
    user = await api.register("leaver")
    r = await api.post("/v1/auth/logout", token=user.token)
    assert r.status == 204, await r.text()
    after_logout = await api.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert after_logout.status == 401
    assert (await _problem(after_logout))["code"] == "signed_out"

    other = await api.register("robbed")
    r = await api.post("/v1/auth/refresh", json={"refresh_token": other.refresh_token})
    assert r.status == 200, await r.text()
    reused = await api.post("/v1/auth/refresh", json={"refresh_token": other.refresh_token})
    assert reused.status == 401
    assert (await _problem(reused))["code"] == "token_reused"
    # The logged-out session's access token is refused with its own reason too.
    me = await api.get("/v1/me", token=user.token)
    assert me.status == 401
    assert (await _problem(me))["code"] == "signed_out"


async def test_no_problem_is_about_blank(api: Api) -> None:
    user = await api.register("blanks")
    answers = [
        await api.get("/v1/nothing-here"),
        await api.post("/healthz"),
        await api.get("/v1/me"),
        await api.get("/v1/me", token="not-a-token"),
        await api.post("/v1/auth/login", json={"login": "blanks", "password": "wrong one!"}),
        await api.post("/v1/garments", json={"name": 5}, token=user.token),
        await api.post("/v1/garments", data=b"{", token=user.token,
                       headers={"Content-Type": "application/json"}),
        await api.get(f"/v1/posts/{'0' * 8}-0000-0000-0000-{'0' * 12}", token=user.token),
    ]  # fmt: skip
    codes = [(r.status, (await _problem(r))["code"]) for r in answers]
    assert codes == [
        (404, "not_found"),
        (405, "method_not_allowed"),
        (401, "not_signed_in"),
        (401, "access_token_invalid"),
        (401, "wrong_login"),
        (422, "validation_failed"),
        (400, "bad_request"),
        (404, "not_found"),
    ]


async def test_every_problem_type_is_served_with_its_explanation(api: Api) -> None:
    r = await api.get("/problems")
    assert r.status == 200, await r.text()
    listed = {p["code"]: p for p in (await r.json())["items"]}
    assert set(listed) == set(PROBLEM_TYPES)
    r = await api.get("/problems/token_reused")
    assert r.status == 200, await r.text()
    one = await r.json()
    assert one == listed["token_reused"]
    assert one["status"] == 401 and one["type"] == "/problems/token_reused"
    assert "revoked" in one["explanation"]
    missing = await api.get("/problems/no_such_code")
    assert missing.status == 404
    spec = await (await api.get("/openapi.json")).json()
    code = spec["components"]["schemas"]["Problem"]["properties"]["code"]
    assert set(code["enum"]) == set(PROBLEM_TYPES)


def test_every_code_the_code_raises_is_registered() -> None:
    """A `code="..."` given to Problem (or a helper) anywhere in server/ must be a registered
    type: an unknown one would quietly fall back to the status's generic code."""
    unknown = []
    for path in (ROOT / "server").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "code":
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    if value.value not in PROBLEM_TYPES:
                        unknown.append(f"{path.relative_to(ROOT)}:{node.lineno} {value.value}")
    assert not unknown, unknown
