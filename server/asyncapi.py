"""GET /asyncapi.json: the Socket.IO channel as an AsyncAPI 3.0 document, generated from the
pydantic models of realtime/schemas.py and of the routes that emit events (server/routes/posts.py),
so the document and the payloads cannot drift apart."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from realtime.schemas import (
    CLIENT_EVENTS,
    SERVER_EVENTS,
    ClientEvent,
    ConnectAuth,
    ErrorAck,
    ServerEvent,
)
from server.routes import posts

REF = "#/components/schemas/{model}"
CHANNEL = "socket"

DESCRIPTION = """Socket.IO (v4 protocol, Engine.IO v4) on path `/socket.io/`, default namespace.

Connect with `io(API_URL, {path: "/socket.io/", auth: {token: ACCESS_TOKEN}})` (ConnectAuth).
A missing, invalid or revoked token is refused: the client gets `connect_error` with a message
starting `unauthorized:`. On connect the socket joins its user's room.

Every client event is answered with an ack (use `emitWithAck`): its own shape with `ok: true`,
or ErrorAck `{ok: false, error: {code, message}}` (plus `errors` for avatar:set). At most 40
events a second per socket on average (bursts of 80); far beyond that the socket is closed.

A socket lives as long as its access token: send `auth:refresh` with a fresh token before it
expires. When the session ends anywhere the server sends `session:ended` and disconnects.
Stored events (notifications) carry a per-user gap-free `seq`: after a reconnect, `sync` from the
last seq seen."""


def all_server_events() -> tuple[ServerEvent, ...]:
    return (*SERVER_EVENTS, *posts.SOCKET_EVENTS)


def all_client_events() -> tuple[ClientEvent, ...]:
    return CLIENT_EVENTS


def _id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name)


def build_asyncapi(*, title: str, version: str) -> dict[str, Any]:
    server_events, client_events = all_server_events(), all_client_events()
    models: list[type[BaseModel]] = [ConnectAuth, ErrorAck]
    models += [e.payload for e in server_events]
    models += [m for e in client_events for m in (e.payload, e.ack)]
    unique = list(dict.fromkeys(models))
    refs, schemas = models_json_schema([(m, "serialization") for m in unique], ref_template=REF)
    components: dict[str, Any] = dict(schemas.get("$defs", {}))

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return refs[(model, "serialization")]  # type: ignore[no-any-return]

    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}

    def message(key: str, name: str, summary: str, model: type[BaseModel]) -> dict[str, str]:
        messages[key] = {"name": name, "title": name, "summary": summary, "payload": ref(model)}
        return {"$ref": f"#/channels/{CHANNEL}/messages/{key}"}

    for e in server_events:
        operations[f"on_{_id(e.name)}"] = {
            "action": "send",
            "channel": channel_ref,
            "summary": f"Server emits `{e.name}`: {e.summary}",
            "messages": [message(_id(e.name), e.name, e.summary, e.payload)],
        }
    error_ack = message("error_ack", "ack", "Any refused event", ErrorAck)
    for c in client_events:
        key = _id(c.name)
        operations[f"emit_{key}"] = {
            "action": "receive",
            "channel": channel_ref,
            "summary": f"Client emits `{c.name}`: {c.summary}",
            "messages": [message(key, c.name, c.summary, c.payload)],
            "reply": {
                "channel": channel_ref,
                "messages": [message(f"{key}_ack", "ack", f"Ack of {c.name}", c.ack), error_ack],
            },
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": version, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "api": {
                "host": "127.0.0.1:8080",
                "protocol": "ws",
                "pathname": "/socket.io/",
                "description": "The API's own address (Socket.IO on the same port as REST)",
                "security": [{"$ref": "#/components/securitySchemes/token"}],
            }
        },
        "channels": {
            CHANNEL: {
                "address": "/",
                "title": "Default namespace",
                "description": "Every event goes through the default namespace.",
                "messages": messages,
            }
        },
        "operations": operations,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "token": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "Sent in the Socket.IO connect `auth` object as `token`"
                    " (schema ConnectAuth); the same access token as the REST bearer.",
                }
            },
        },
    }
