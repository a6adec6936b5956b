"""GET /asyncapi.json: every Socket.IO event both ways and every ack (finding 2). The reference
parser accepts it, every event the code emits or handles is in it, and real payloads and acks
validate against it."""

from __future__ import annotations

import ast
import asyncio
import json
import pathlib
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import socketio

from realtime.events import Events
from tests.conftest import Api, EventLog
from tests.schema_helpers import mismatches

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "asyncapi"
Connect = Callable[..., Awaitable[socketio.AsyncClient]]
# Emitter methods and where their event name is: (method, index of the event argument)
EMIT_CALLS = {"emit": 0, "to_user": 1, "to_users": 1, "to_post": 1}
FIXED = {"job_update": "job:update", "notification": "notification"}


def emitted_in_code() -> dict[str, str]:
    """Every event name the code emits, with where: literal names passed to emit/to_user/
    to_users/to_post, and the Emitter helpers named after their event."""
    found: dict[str, str] = {}
    for top in ("server", "realtime", "workers", "db", "drape"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                name, where = node.func.attr, f"{path.relative_to(ROOT)}:{node.lineno}"
                index = EMIT_CALLS.get(name)
                if index is not None and len(node.args) > index:
                    arg = node.args[index]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, where)
                if name in FIXED and path.name != "emit.py":
                    found.setdefault(FIXED[name], where)
    return found


def documented(doc: dict[str, Any], action: str) -> dict[str, dict[str, Any]]:
    """Event name -> payload schema, for the operations with this action."""
    messages = doc["channels"]["socket"]["messages"]
    out = {}
    for op in doc["operations"].values():
        if op["action"] == action:
            for m in op["messages"]:
                message = messages[m["$ref"].rsplit("/", 1)[1]]
                out[message["name"]] = message["payload"]
    return out


def ack_schemas(doc: dict[str, Any], event: str) -> list[dict[str, Any]]:
    messages = doc["channels"]["socket"]["messages"]
    for op in doc["operations"].values():
        names = [messages[m["$ref"].rsplit("/", 1)[1]]["name"] for m in op["messages"]]
        if op["action"] == "receive" and names == [event]:
            return [
                messages[m["$ref"].rsplit("/", 1)[1]]["payload"] for m in op["reply"]["messages"]
            ]
    raise AssertionError(f"no operation for {event}")


def check_ack(doc: dict[str, Any], event: str, ack: Any) -> None:
    """The ack validates against one of the documented replies of `event`."""
    results = [mismatches(doc, schema, ack) for schema in ack_schemas(doc, event)]
    assert any(not r for r in results), (event, ack, results)


@pytest.fixture
async def doc(api: Api) -> dict[str, Any]:
    r = await api.get("/asyncapi.json")
    assert r.status == 200, await r.text()
    return await r.json()  # type: ignore[no-any-return]


async def test_the_reference_parser_accepts_the_document(
    doc: dict[str, Any], tmp_path: Any
) -> None:
    node = shutil.which("node")
    if node is None or not (TOOL / "node_modules" / "@asyncapi" / "parser").exists():
        pytest.skip("tools/asyncapi is not installed (make test installs it)")
    assert doc["asyncapi"].startswith("3.0")
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(doc))
    done = await asyncio.to_thread(
        subprocess.run, [node, str(TOOL / "check.mjs"), str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    errors = [d for d in lines if d.get("severity") == 0]
    assert done.returncode == 0 and not errors, (errors, done.stderr[-2000:])
    summary = lines[-1]
    assert summary["operations"] == len(doc["operations"]) > 10


def test_a_broken_document_is_refused_by_the_parser(tmp_path: Any) -> None:
    node = shutil.which("node")
    if node is None or not (TOOL / "node_modules" / "@asyncapi" / "parser").exists():
        pytest.skip("tools/asyncapi is not installed (make test installs it)")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"asyncapi": "3.0.0", "info": {"title": "x"}, "operations": {
        "o": {"action": "send", "channel": {"$ref": "#/channels/none"}}}}))  # fmt: skip
    done = subprocess.run([node, str(TOOL / "check.mjs"), str(path)], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1


async def test_every_event_the_code_emits_or_handles_is_documented(doc: dict[str, Any]) -> None:
    sent, received = documented(doc, "send"), documented(doc, "receive")
    emitted = emitted_in_code()
    # The scan sees what it should (so an empty scan cannot pass).
    assert {"post:like", "feed:post", "job:update", "notification", "avatar:mesh"} <= set(emitted)
    missing = {e: where for e, where in emitted.items() if e not in sent}
    assert not missing, f"emitted but not in /asyncapi.json: {missing}"
    handled = set(Events.CLIENT_EVENTS)
    assert handled - set(received) == set(), f"handled but undocumented: {handled - set(received)}"
    assert set(received) - handled == set(), "documented but not handled"
    assert "ConnectAuth" in doc["components"]["schemas"]


async def test_real_payloads_and_acks_validate_against_the_document(
    doc: dict[str, Any], api: Api, sio_connect: Connect, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    sent = documented(doc, "send")
    alice, bob = await api.register("alice"), await api.register("bob")
    assert (await api.put("/v1/users/alice/follow", token=bob.token)).status == 200
    a, b = await sio_connect(alice.token), await sio_connect(bob.token)
    logs = {e: EventLog(c, e) for c, e in (
        (a, "notification"), (a, "job:update"), (b, "feed:post"), (b, "post:like"),
        (b, "post:comment"), (b, "post:comment_deleted"),
    )}  # fmt: skip
    r = await api.post("/v1/posts", token=alice.token, json={"caption": "new fit"})
    assert r.status == 201, await r.text()
    post = (await r.json())["id"]
    ack = await b.call("subscribe", {"post_id": post}, timeout=5)
    check_ack(doc, "subscribe", ack)
    assert ack["ok"] is True
    assert (await api.put(f"/v1/posts/{post}/like", token=bob.token)).status == 200
    r = await api.post(f"/v1/posts/{post}/comments", token=bob.token, json={"body": "nice"})
    assert r.status == 201
    assert (
        await api.delete(f"/v1/comments/{(await r.json())['id']}", token=bob.token)
    ).status == 204
    assert (await api.post("/v1/recommendations", token=alice.token, json={})).status == 202
    await run_jobs()
    for event, log in logs.items():
        for payload in await log.wait_for(1):
            found = mismatches(doc, sent[event], payload)
            assert not found, (event, payload, found)
    like = logs["post:like"].items[0]
    assert like["actor_liked"] is like["liked"] is True
    for event, data in (
        ("sync", {"after_seq": 0}), ("unsubscribe", {"post_id": post}),
        ("subscribe", {"post_id": "nope"}), ("avatar:session", {"avatar_id": post}),
        ("avatar:set", {"avatar_id": post}), ("auth:refresh", {"token": bob.token}),
        ("auth:refresh", {"token": "x"}),
    ):  # fmt: skip
        check_ack(doc, event, await b.call(event, data, timeout=5))
    ended = EventLog(b, "session:ended")
    assert (await api.post("/v1/auth/logout", token=bob.token)).status == 204
    [payload] = await ended.wait_for(1)
    assert not mismatches(doc, sent["session:ended"], payload), payload
