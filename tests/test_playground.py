"""The /playground page: served by the web process, switched off in production, and driven in
two headless Chromium windows (Debian's chromium and chromedriver, through Selenium) against a
real web process and a real arq worker: a like in one window shows up live in the other, and a
slider of the avatar session brings a new mesh revision. No request of the page leaves
127.0.0.1 (Chrome's performance log lists every request and WebSocket the page made).

DRAPE_PLAYGROUND_SCREENSHOTS=1 also writes docs/playground-feed.png and
docs/playground-avatar.png (the README shows them)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from drape.settings import Settings
from server.routes.playground import ROOT as PAGE
from server.routes.playground import policy
from tests.conftest import ROOT, Api, start_app
from tests.harness import Stack, free_port

VENDOR = PAGE / "vendor"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
WINDOW = (412, 915)  # a phone-sized window (CSS pixels)
SCREENSHOTS = os.environ.get("DRAPE_PLAYGROUND_SCREENSHOTS") == "1"


async def test_the_page_and_its_files_are_served(api: Api) -> None:
    r = await api.get("/playground")
    assert r.status == 200, await r.text()
    assert r.content_type == "text/html"
    page = await r.text()
    assert '<script type="module" src="/playground/app.js">' in page
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in csp and "unsafe-inline" not in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert (await api.get("/playground/")).status == 200
    for name, kind in [("app.js", "text/javascript"), ("style.css", "text/css")]:
        r = await api.get(f"/playground/{name}")
        assert r.status == 200 and r.content_type == kind, name
        # Only the page gets the page's policy; its files keep the API's.
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    for path in ("/playground/nothing.js", "/playground/../app.py", "/playground/%2e%2e/app.py"):
        assert (await api.get(path)).status == 404, path


async def test_off_in_production_unless_asked_for(settings: Settings) -> None:
    import aiohttp

    for extra, status in [({}, 404), ({"playground": True}, 200)]:
        running = await start_app(settings.with_(environment="production", **extra))
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(running.base + "/playground") as r:
                    assert r.status == status, extra
                    if status == 404:
                        assert r.content_type == "application/problem+json"
        finally:
            await running.runner.cleanup()
    assert Settings.from_env({"ENVIRONMENT": "production", "JWT_SECRET": "x" * 32,
                              "PLAYGROUND": "true"}).serves_playground  # fmt: skip


def test_the_policy_lets_the_page_reach_the_object_store(settings: Settings) -> None:
    html = (PAGE / "index.html").read_bytes()
    local = policy(settings, html)
    assert f"connect-src 'self' {settings.public_url};" in local
    s3 = settings.with_(
        object_store_url="s3://b?endpoint=http://minio:9000&public_endpoint=https://cdn.example.com"
    )
    assert "img-src 'self' data: blob: https://cdn.example.com;" in policy(s3, html)
    aws = policy(settings.with_(object_store_url="s3://b?region=eu-west-1"), html)
    assert "connect-src 'self' https://*.amazonaws.com;" in aws


# ---------------------------------------------------------------------- two browser windows


def _missing() -> str | None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        return "chromium and chromedriver are not installed (make test installs Debian's)"
    if not (VENDOR / "three" / "build" / "three.module.js").is_file():
        return "server/playground/vendor is missing (make playground copies it)"
    return None


@contextmanager
def _chromium() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        for arg in [
            "--headless=new", "--no-sandbox", "--disable-gpu-sandbox", "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
        ]:  # fmt: skip
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        service = Service(executable_path=str(CHROMEDRIVER), port=free_port())
        driver = webdriver.Chrome(service=service, options=options)
        try:
            # A desktop window has a minimum width; a phone's viewport is emulated instead.
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": True,
            })  # fmt: skip
            yield driver
        finally:
            driver.quit()


class Window:
    """One browser window on the playground, with the waits the steps need."""

    def __init__(self, driver: Any, base: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.base = driver, base
        self.wait = WebDriverWait(driver, 30, poll_frequency=0.1)
        self.requests: list[str] = []
        self.console: list[dict[str, Any]] = []

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def until(self, what: str, check: Any, timeout: float = 30) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        def probe(_: Any) -> Any:
            try:
                return check()
            except Exception:  # the element is not there yet, or is being replaced
                return None

        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(probe, what)

    def fill(self, css: str, text: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def status(self) -> str:
        return str(self.find("#status").text)

    def register(self, username: str) -> None:
        self.driver.get(self.base + "/playground")
        self.until("page ready", lambda: self.find("body[data-ready=true]"))
        self.fill("#reg-email", f"{username}@example.com")
        self.fill("#reg-username", username)
        self.fill("#reg-password", "correct horse battery")
        self.find("#register-form button[type=submit]").click()
        self.until("signed in and live", lambda: self.find("#live").text == "live")
        assert self.find("#who-name").text == f"@{username}"

    def tab(self, name: str) -> None:
        self.find(f'#tabs button[data-tab="{name}"]').click()
        self.until(f"{name} shown", lambda: self.find(f"#screen-{name}").is_displayed())

    def post_with(self, caption: str) -> Any:
        from selenium.webdriver.common.by import By

        for item in self.driver.find_elements(By.CSS_SELECTOR, "#posts li.post"):
            if item.find_element(By.CSS_SELECTOR, ".caption").text == caption:
                return item
        return None

    def count(self, post_id: str, kind: str) -> str:
        return str(self.find(f'li[data-post-id="{post_id}"] [data-count={kind}]').text)

    def screenshot(self) -> Image.Image:
        """The whole page, as tall as it is, at the window's width."""
        self.driver.execute_script("window.scrollTo(0, 0)")
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        })  # fmt: skip
        png = base64.b64decode(shot["data"])
        return Image.open(io.BytesIO(png)).convert("RGB")

    def collect_logs(self) -> None:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                self.requests.append(params["url"])
        self.console.extend(self.driver.get_log("browser"))


def _outside(urls: list[str]) -> list[str]:
    """The requests that went over the network anywhere but to 127.0.0.1 (data:, blob: and the
    browser's own chrome:// pages, such as the new tab it opens on, never leave it)."""
    return [
        u
        for u in urls
        if urlsplit(u).scheme not in ("data", "blob", "chrome")
        and urlsplit(u).hostname != "127.0.0.1"
    ]


def _drawn_fraction(data_url: str) -> float:
    """Share of the canvas that differs from its clear colour (the body, lit)."""
    png = base64.b64decode(data_url.split(",", 1)[1])
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    background = image[2, 2]
    return float((np.abs(image - background).sum(axis=2) > 24).mean())


def _drive(base: str, shots: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    with ExitStack() as stack:
        a = Window(stack.enter_context(_chromium()), base)
        b = Window(stack.enter_context(_chromium()), base)
        a.register("alice")
        b.register("bob")

        # Bob follows Alice; her post then reaches his open feed live (feed:post).
        b.fill("#follow-name", "alice")
        b.find("#follow-form button[type=submit]").click()
        b.until("followed", lambda: "Following @alice" in b.status())
        caption = "Linen shirt, first day of spring"
        a.fill("#post-caption", caption)
        a.find("#post-form button[type=submit]").click()
        mine = a.until("own post listed", lambda: a.post_with(caption))
        post_id = mine.get_attribute("data-post-id")
        b.until("post arrived live", lambda: b.post_with(caption))
        assert b.count(post_id, "like") == "0"

        # A like in Alice's window moves the counter in Bob's, which was never reloaded.
        a.find(f'li[data-post-id="{post_id}"] button.like').click()
        a.until("liked", lambda: a.count(post_id, "like") == "1")
        b.until("like count changed live", lambda: b.count(post_id, "like") == "1")
        like = b.find(f'li[data-post-id="{post_id}"] button.like')
        assert like.get_attribute("aria-pressed") == "false"

        # Bob comments: Alice sees it under the post and as unread notifications.
        b.fill(f"#c-{post_id}", "Great colour!")
        b.find(f'li[data-post-id="{post_id}"] .comment-form button').click()
        a.until("comment arrived live", lambda: "Great colour!" in a.find(
            f'li[data-post-id="{post_id}"] .comments').text)  # fmt: skip
        a.until("comment counted", lambda: a.count(post_id, "comment") == "1")
        a.until("two unread", lambda: a.find("#unread").text == "2")
        assert a.find("#unread").get_attribute("aria-label") == "2 unread"
        b.until("comment shown to its author", lambda: b.count(post_id, "comment") == "1")
        feed_shots = (a.screenshot(), b.screenshot())
        a.tab("notifications")
        texts = a.find("#notifications").text
        assert "@bob followed you" in texts and "@bob commented on your post" in texts
        a.until("read", lambda: not a.find("#unread").is_displayed())

        _wardrobe_outfit_and_advice(a, shots)

        # The avatar: built by the worker, drawn by three.js, moved by a slider.
        a.tab("avatar")
        a.until("avatar form", lambda: a.find("#avatar-form").is_displayed())
        a.find("#avatar-form button[type=submit]").click()
        first = a.until(
            "avatar built and drawn",
            lambda: a.find("#avatar-revision").get_attribute("data-revision"),
            timeout=240,
        )
        a.until("sliders", lambda: a.find("#s-waist").is_displayed())
        canvas = a.driver.execute_script(
            "return document.getElementById('avatar-canvas').toDataURL('image/png')"
        )
        assert _drawn_fraction(canvas) > 0.03, "the body is not on the canvas"
        before = float(a.find("#s-waist").get_attribute("value"))
        slider = a.find("#s-waist")
        slider.send_keys(*[Keys.ARROW_RIGHT] * 6)  # the keyboard moves it, as for anyone
        assert float(slider.get_attribute("value")) == before + 3.0
        a.until(
            "a new mesh revision",
            lambda: int(a.find("#avatar-revision").get_attribute("data-revision")) > int(first),
            timeout=60,
        )
        assert "waist" in a.find("#avatar-revision").text
        avatar_shot = a.screenshot()

        for w in (a, b):
            w.collect_logs()
            assert w.requests, "the performance log recorded nothing"
            assert any(u.startswith("ws://127.0.0.1") for u in w.requests), w.requests
            assert _outside(w.requests) == [], _outside(w.requests)
            # Nothing refused by the policy, no script error, no failed request but the one
            # that finds no avatar yet (the page then offers to make one).
            no_avatar = ("/v1/me/avatar ", "404 (Not Found)")
            errors = [
                e for e in w.console
                if e["level"] == "SEVERE" and not all(s in e["message"] for s in no_avatar)
            ]  # fmt: skip
            assert errors == [], errors
        assert any("/objects/" in u and ".glb" in u for u in a.requests), a.requests

    _save(shots, feed_shots, avatar_shot)


def _wardrobe_outfit_and_advice(w: Window, tmp: Path) -> None:
    """Three garments (one with a photo through the presigned upload), an outfit of them, and
    recommendations with their explanations."""
    from selenium.webdriver.common.by import By

    w.tab("wardrobe")
    for name, category in [("White linen shirt", "tops"), ("Navy chinos", "bottoms"),
                           ("Brown loafers", "shoes")]:  # fmt: skip
        w.fill("#garment-name", name)
        w.driver.find_element(
            By.CSS_SELECTOR, f'#garment-category option[value="{category}"]'
        ).click()
        w.find("#garment-form button[type=submit]").click()
        w.until(f"{name} listed", lambda name=name: name in w.find("#garments").text)
    photo = tmp / "shirt.png"
    Image.new("RGB", (600, 800), "#f4f1ea").save(photo)
    first = w.driver.find_elements(By.CSS_SELECTOR, "#garments li.garment")[0]
    gid = first.get_attribute("data-garment-id")
    first.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(photo))
    w.until("image uploaded", lambda: "/objects/" in w.find(
        f'li[data-garment-id="{gid}"] img').get_attribute("src"), timeout=60)  # fmt: skip

    w.tab("outfits")
    w.until("garments to pick", lambda: len(w.driver.find_elements(
        By.CSS_SELECTOR, "#outfit-picker input[type=checkbox]")) == 3)  # fmt: skip
    w.fill("#outfit-name", "Spring office")
    for box in w.driver.find_elements(By.CSS_SELECTOR, "#outfit-picker input[type=checkbox]"):
        box.click()
    w.find("#outfit-form button[type=submit]").click()
    w.until("outfit saved", lambda: "Spring office" in w.find("#outfits").text)
    assert "bottom: Navy chinos" in w.find("#outfits").text

    w.tab("recommendations")
    w.find("#rec-form button[type=submit]").click()
    w.until("recommendations", lambda: w.driver.find_elements(
        By.CSS_SELECTOR, "#recs li.rec .explanation"), timeout=120)  # fmt: skip
    explanation = w.find("#recs li.rec .explanation").text
    assert len(explanation) > 10, explanation
    assert "Navy chinos" in w.find("#recs li.rec").text  # garments by name, not by id


def _save(shots: Path, feed: tuple[Image.Image, Image.Image], avatar: Image.Image) -> None:
    """The two feed windows side by side, and the avatar window."""
    gap = 16
    height = max(shot.height for shot in feed)
    both = Image.new("RGB", (feed[0].width + feed[1].width + gap, height), "#c9cdd6")
    both.paste(feed[0], (0, 0))
    both.paste(feed[1], (feed[0].width + gap, 0))
    both.save(shots / "playground-feed.png", optimize=True)
    avatar.save(shots / "playground-avatar.png", optimize=True)


async def test_two_windows_like_live_and_move_the_avatar(
    settings: Settings, tmp_path: Path
) -> None:
    if why := _missing():
        pytest.skip(why)
    stack = Stack(settings, logdir=tmp_path)
    try:
        web = await stack.web(timeout=60)
        await stack.worker()
        assert web.base is not None
        await asyncio.to_thread(_drive, web.base, tmp_path)
    finally:
        await stack.aclose(signal.SIGTERM)
    for name in ("playground-feed.png", "playground-avatar.png"):
        assert Image.open(tmp_path / name).size[0] >= WINDOW[0] - 40
        if SCREENSHOTS:
            shutil.copy(tmp_path / name, ROOT / "docs" / name)
