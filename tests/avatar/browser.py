"""Renders GLB files in headless Chromium with three.js and Filament (tools/render), for the
avatar tests and bench/avatar_mesh.py.

A small HTTP server on 127.0.0.1 serves tools/render/render.html, three's and Filament's files
from tools/render/node_modules and the GLB bytes from memory; the page renders and POSTs the
canvas back. Chromium runs as CI does: root, no sandbox, software WebGL (SwiftShader).
"""

from __future__ import annotations

import base64
import io
import json
import mimetypes
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
RENDER = ROOT / "tools" / "render"
MOUNTS = {
    "/three/": RENDER / "node_modules" / "three",
    "/filament/": RENDER / "node_modules" / "filament",
}


@dataclass(frozen=True)
class Render:
    image: np.ndarray  # (512, 512, 3) uint8
    decode_ms: (
        float  # GLB bytes -> engine scene (three: GLTFLoader.parse; Filament: asset + resources)
    )
    bounds: list[list[float]]  # the engine's own bounding box of the asset

    def body_mask(self) -> np.ndarray:
        background = self.image[2, 2].astype(int)  # engines tone-map the clear colour
        return np.abs(self.image.astype(int) - background).sum(axis=2) > 24


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def ready() -> str | None:
    """Why renders cannot run here, or None."""
    if chromium() is None:
        return "chromium is not installed (make test installs Debian's)"
    if not all(p.is_dir() for p in MOUNTS.values()):
        return "tools/render/node_modules is missing (make test runs npm ci there)"
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, bytes]
    results: dict[str, dict[str, Any]]
    done: threading.Condition

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a browser stopped mid-request; the render it sent (or its absence) decides


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in self.server.files:
            self._send(self.server.files[path], "model/gltf-binary")
            return
        if path == "/render.html":
            self._send((RENDER / "render.html").read_bytes(), "text/html")
            return
        for prefix, folder in MOUNTS.items():
            if path.startswith(prefix):
                target = (folder / path.removeprefix(prefix)).resolve()
                if target.is_file() and folder.resolve() in target.parents:
                    kind = "application/wasm" if target.suffix == ".wasm" else None
                    kind = kind or mimetypes.guess_type(target.name)[0] or "text/javascript"
                    if target.suffix in (".js", ".mjs"):
                        kind = "text/javascript"
                    self._send(target.read_bytes(), kind)
                    return
        self.send_error(404)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._send(b"{}", "application/json")  # answer first: the browser is stopped next
        with self.server.done:
            self.server.results[self.path] = json.loads(body)
            self.server.done.notify_all()

    def _send(self, data: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def render(glbs: dict[str, bytes], engines: tuple[str, ...] = ("three", "filament"),
           timeout: float = 90.0) -> dict[tuple[str, str], Render]:  # fmt: skip
    """{(name, engine): Render} for every GLB and engine, one headless Chromium page each."""
    browser = chromium()
    assert browser is not None, ready()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.files = {f"/{name}.glb": data for name, data in glbs.items()}
    server.results = {}
    server.done = threading.Condition()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    out: dict[tuple[str, str], Render] = {}
    try:
        for name in glbs:
            for engine in engines:
                key = f"/result/{name}/{engine}"
                url = (f"http://127.0.0.1:{port}/render.html?engine={engine}&src=/{name}.glb"
                       f"&out={key}")  # fmt: skip
                result = _run(browser, url, server, key, timeout)
                assert "error" not in result, (name, engine, result["error"])
                png = base64.b64decode(result["png"].split(",", 1)[1])
                image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
                out[(name, engine)] = Render(image, float(result["decodeMs"]), result["bounds"])
    finally:
        server.shutdown()
        server.server_close()
    return out


def _run(browser: str, url: str, server: _Server, key: str, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        args = [
            browser, "--headless=new", "--no-sandbox", "--disable-gpu-sandbox",
            "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--window-size=512,512", url,
        ]  # fmt: skip
        # Its own process group, so that stopping it stops its renderer and GPU processes too.
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            with server.done:
                server.done.wait_for(lambda: key in server.results or proc.poll() is not None,
                                     timeout)  # fmt: skip
            if key not in server.results:
                _stop(proc)
                err = proc.communicate(timeout=10)[1].decode(errors="replace")[-2000:]
                raise AssertionError(f"no render from {url}: {err}")
            return server.results[key]
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)
