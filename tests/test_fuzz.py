"""Schemathesis over every operation of /openapi.json, against the real app on a real port.

Two passes, each bounded so the pair stays well under a minute and a half on two cores:
- coverage: Schemathesis' deterministic boundary cases for each operation (longest and one-too-
  long strings, numbers at and past their limits, every wrong type, missing required fields and
  headers, unsupported content types and methods);
- fuzzing: Hypothesis-generated requests, valid (positive) and schema-breaking (negative), a
  fixed number per operation and mode, a fixed seed and no shrinking.

Every answer is checked: never a 5xx, only documented status codes and content types, bodies that
match the documented schemas, and schema-breaking input refused. Calls carry the bearer token of
a user who owns real resources (so ids in paths reach more than 404s); some carry none.
A failure prints the request that caused it as a curl command.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import hypothesis
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from tests.conftest import Api, RunningApp, User

EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 15}
SEED = 20_240_611
# For each pass; operations left when it runs out are reported as failures. About 1 s per
# operation on a 2-core machine (the API has ~170 of them).
BUDGET_SECONDS = 240.0

CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, openapi_checks.negative_data_rejection]


@dataclass
class Seeded:
    """Real resources of the fuzzing user, so generated requests reach more than 404s."""

    user: User
    other: User
    ids: dict[str, str] = field(default_factory=dict)  # path prefix -> an id under it

    def path_parameters(self, path: str) -> dict[str, str] | None:
        if "{username}" in path:
            return {"username": self.other.username}
        for prefix, value in self.ids.items():
            if path.startswith(prefix):
                return {"id": value}
        return None


async def _seed(api: Api, pool: asyncpg.Pool) -> Seeded:
    user, other = await api.register("fuzzer"), await api.register("fuzz_other")

    async def made(method: str, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await api.request(method, path, token=token, json=body)
        assert r.status in (200, 201, 202), await r.text()
        return await r.json()  # type: ignore[no-any-return]

    post = await made("POST", "/v1/posts", user.token, {"caption": "seed"})
    comment = await made("POST", f"/v1/posts/{post['id']}/comments", other.token, {"body": "hi"})
    garment = await made("POST", "/v1/garments", user.token, {"name": "tee", "category": "tops"})
    items = [{"garment_id": garment["id"], "slot": "top"}]
    outfit = await made("POST", "/v1/outfits", user.token, {"items": items})
    avatar = await made("POST", "/v1/avatars", user.token, {"measurements": {"height": 170}})
    # Both accounts private, each with a request from the other: follows, requests and the
    # 403 of a private account's lists all have something to answer.
    await made("PATCH", "/v1/me", other.token, {"is_private": True})
    await made("PUT", f"/v1/users/{other.username}/follow", user.token, {})
    await made("PATCH", "/v1/me", user.token, {"is_private": True})
    await made("PUT", f"/v1/users/{user.username}/follow", other.token, {})
    follow_request = await pool.fetchval(
        "SELECT id::text FROM follows WHERE status = 'pending' AND followee_id = $1",
        uuid.UUID(user.id),
    )
    ids = {
        "/v1/posts/": post["id"],
        "/v1/comments/": comment["id"],
        "/v1/garments/": garment["id"],
        "/v1/outfits/": outfit["id"],
        "/v1/avatars/": avatar["avatar"]["id"],
        "/v1/jobs/": avatar["job"]["id"],
        "/v1/me/follow-requests/": follow_request,
    }
    return Seeded(user=user, other=other, ids=ids)


SIGN_OUT = {"/v1/auth/logout"}


def _operations(schema: Any) -> list[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deleting the seeded resources early would leave the rest of the run with 404s only:
    # deletes go last, those of sub-resources (a like, an image) before their resource's.
    # Signing out ends the token every call carries, so it goes after everything.
    operations.sort(
        key=lambda op: (
            op.path in SIGN_OUT,
            op.method.upper() == "DELETE",
            -len(op.path),
            op.path,
            op.method,
        )
    )
    return operations


@dataclass
class Run:
    """What one pass saw: statuses per operation, failures (the first per operation and
    mode, to keep the report readable) and what the time budget left out."""

    base_url: str
    seeded: Seeded
    deadline: float
    session: requests.Session = field(default_factory=requests.Session)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.seeded.user.token}"}

    def call(self, case: schemathesis.Case, *, authenticated: bool) -> None:
        mode = case.meta.generation.mode if case.meta else GenerationMode.POSITIVE
        checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else CHECKS
        response = case.call_and_validate(
            base_url=self.base_url,
            session=self.session,
            headers=self.auth if authenticated else None,
            checks=checks,
            timeout=10,
        )
        self.statuses[case.operation.label][response.status_code] += 1

    def attempt(self, key: str, run: Callable[[], None]) -> None:
        if time.monotonic() > self.deadline:
            self.skipped.append(key)
            return
        for attempt in range(2):
            try:
                run()
            except SystemError as e:
                # CPython 3.11's ast.parse shares one recursion counter between threads
                # (python/cpython#106905): the generator's parse here can trip over one running
                # in another thread of this process. That says nothing about the API: go again.
                if attempt == 0 and "AST constructor recursion depth mismatch" in str(e):
                    continue
                self.failures.setdefault(key, f"{key}:\n{e}")
            except (Exception, FailureGroup) as e:  # FailureGroup is a BaseExceptionGroup
                self.failures.setdefault(key, f"{key}:\n{e}")
            return

    def report(self, operations: list[Any]) -> list[str]:
        out = list(self.failures.values())
        if self.skipped:
            out.append("out of time before: " + ", ".join(self.skipped))
        # A pass that only ever met the auth check would prove little.
        for operation in operations:
            got = self.statuses[operation.label]
            if not set(got) - {401}:
                out.append(f"{operation.label}: never got past the auth check: {dict(got)}")
        return out


def _coverage_cases(schema: Any, operation: Any, seeded: Seeded) -> Iterator[Any]:
    config = schema.config.generation_for(operation=operation)
    yield from schema.iter_coverage_cases(
        operation, generation_modes=list(GenerationMode), generation_config=config
    )
    known = seeded.path_parameters(operation.path)
    if known:  # the same cases again on a real resource
        for case in schema.iter_coverage_cases(
            operation, generation_modes=list(GenerationMode), generation_config=config
        ):
            if case.path_parameters and case.meta.generation.mode is GenerationMode.POSITIVE:
                case.path_parameters = {**case.path_parameters, **known}
                yield case


def _coverage(schema: Any, run: Run) -> list[str]:
    """Runs in a thread (requests is blocking; the app serves on the test's event loop)."""
    operations = _operations(schema)
    for operation in operations:
        for case in _coverage_cases(schema, operation, run.seeded):
            mode = case.meta.generation.mode.value
            # The cases that leave the header out are the anonymous ones; every other one gets
            # the real token instead of the empty placeholder the generator puts there.
            authenticated = "Authorization" in (case.headers or {})
            run.attempt(
                f"{operation.label} (coverage, {mode})",
                lambda case=case, authenticated=authenticated: run.call(
                    case, authenticated=authenticated
                ),
            )
    return run.report(operations)


def _fuzz(schema: Any, run: Run) -> list[str]:
    """Runs in a thread (requests is blocking; the app serves on the test's event loop)."""
    operations = _operations(schema)
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            strategies = [operation.as_strategy(generation_mode=mode)]
            known = run.seeded.path_parameters(operation.path)
            if known:
                strategies.append(
                    operation.as_strategy(generation_mode=mode, path_parameters=known)
                )

            @hypothesis.settings(
                max_examples=examples,
                deadline=None,
                database=None,
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking
                suppress_health_check=list(hypothesis.HealthCheck),
                print_blob=False,
            )
            @hypothesis.seed(SEED)
            @hypothesis.given(case=st.one_of(strategies), anonymous=st.integers(0, 4))
            def fuzz(case: schemathesis.Case, anonymous: int) -> None:
                # One call in five goes with whatever credentials the generator made up.
                run.call(case, authenticated=anonymous != 0)

            def once(fuzz: Callable[[], None] = fuzz, mode: GenerationMode = mode) -> None:
                try:
                    fuzz()
                except hypothesis.errors.Unsatisfiable:  # no parameters, nothing to break
                    assert mode is GenerationMode.NEGATIVE

            run.attempt(f"{operation.label} ({mode.value})", once)
    return run.report(operations)


async def _run(
    server: RunningApp, api: Api, pool: asyncpg.Pool, passes: Callable[[Any, Run], list[str]]
) -> None:
    seeded = await _seed(api, pool)
    r = await api.get("/openapi.json")
    assert r.status == 200, await r.text()
    schema = schemathesis.openapi.from_dict(await r.json())
    run = Run(base_url=server.base, seeded=seeded, deadline=time.monotonic() + BUDGET_SECONDS)
    failures = await asyncio.to_thread(passes, schema, run)
    assert not failures, "\n\n".join(failures)
    assert (await api.get("/healthz")).status == 200


async def test_coverage_cases_of_every_operation(
    server: RunningApp, api: Api, pool: asyncpg.Pool
) -> None:
    await _run(server, api, pool, _coverage)


async def test_fuzzing_every_operation(server: RunningApp, api: Api, pool: asyncpg.Pool) -> None:
    await _run(server, api, pool, _fuzz)
