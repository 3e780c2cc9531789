"""The app in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

Needs ``apt-get install -y chromium`` and ``pip install playwright`` (never ``playwright
install``: it downloads a browser). Launches ``scotd serve`` as a user would, asks a
multiple-choice question, waits for the streamed reply, and keeps a screenshot.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import httpx
import pytest

from serve_helpers import free_port
from tiny_student import QUESTIONS, build_tiny_student

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served_app():
    port = free_port()
    cmd = [sys.executable, "-m", "serve.cli", "serve", str(build_tiny_student()), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"scotd serve did not come up: {proc.stdout.read()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_ask_in_the_browser_and_see_reasoning_and_answer(served_app, artifacts_dir):
    from playwright.sync_api import expect, sync_playwright

    item = QUESTIONS[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(served_app, wait_until="networkidle")
            page.locator("#question textarea").fill(item["question"])
            page.locator("#options textarea").fill("\n".join(item["choices"]))
            page.locator("#ask").click()
            expect(page.locator("#answer")).to_contain_text("Answer: (a) a brick", timeout=60_000)
            chat = page.locator("#chat")
            steps = chat.locator("ol li")
            expect(steps).to_have_text(["A brick is dense.", "A feather is light."])
            expect(steps.first).to_be_visible()
            expect(page.locator("#stats")).to_contain_text("tok/s")
            page.screenshot(path=str(artifacts_dir / "reasoning_chat.png"))
            title = chat.locator("[role=button]", has_text="Thinking")
            title.click()  # the thinking block folds ...
            expect(steps).to_have_count(0)
            title.click()  # ... and unfolds again
            expect(steps.first).to_be_visible()
        finally:
            browser.close()
    assert (artifacts_dir / "reasoning_chat.png").stat().st_size > 10_000
