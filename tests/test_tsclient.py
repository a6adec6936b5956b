"""A TypeScript client generated from /openapi.json with openapi-typescript compiles with
`tsc --strict` beside a typed example (tools/tsclient)."""

from __future__ import annotations

import asyncio
import json
import pathlib
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import Api

TOOL = pathlib.Path(__file__).resolve().parent.parent / "tools" / "tsclient"


def _run(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


async def test_the_generated_client_compiles_strictly(api: Api, tmp_path: Any) -> None:
    node = shutil.which("node")
    bins = TOOL / "node_modules" / ".bin"
    if node is None or not (bins / "openapi-typescript").exists():
        pytest.skip("tools/tsclient is not installed (make test installs it)")
    spec = await (await api.get("/openapi.json")).json()
    work = pathlib.Path(tmp_path)
    (work / "openapi.json").write_text(json.dumps(spec))
    for name in ("example.ts", "tsconfig.json"):
        shutil.copy(TOOL / name, work / name)
    gen = await asyncio.to_thread(
        _run, str(bins / "openapi-typescript"), "openapi.json", "-o", "api.d.ts", cwd=work
    )
    assert gen.returncode == 0, gen.stderr[-3000:]
    generated = (work / "api.d.ts").read_text()
    assert '"/v1/feed"' in generated and "StyleAnalysis" in generated
    # No untyped blob in the generated types (response headers are an open map by design).
    blobs = [
        line
        for line in generated.splitlines()
        if "unknown" in line
        and "[name: string]: unknown" not in line
        and not line.strip().startswith("*")
    ]
    assert not blobs, blobs[:10]
    tsc = await asyncio.to_thread(_run, str(bins / "tsc"), "-p", "tsconfig.json", cwd=work)
    assert tsc.returncode == 0, (tsc.stdout + tsc.stderr)[-3000:]
    # And a type error is caught: the check can fail.
    (work / "example.ts").write_text(
        (work / "example.ts").read_text() + '\nexport const bad: Post["like_count"] = "many";\n'
    )
    tsc = await asyncio.to_thread(_run, str(bins / "tsc"), "-p", "tsconfig.json", cwd=work)
    assert tsc.returncode != 0 and "TS2322" in tsc.stdout + tsc.stderr
