"""Screenshot of the chat answering one held-out question, checked before it is kept.

Launches ``scotd serve MODEL`` on 127.0.0.1 as a user would, asks the question in headless Chromium
(Debian's /usr/bin/chromium through Playwright), waits for the streamed reply, grades the answer and,
where the task has a program grader, every step of the shown reasoning; then saves the page.

    python scripts/reasoner_screenshot.py                       # the reasoner, test question 0 of tracking
    python scripts/reasoner_screenshot.py --index 3 --out /tmp/chat.png

Exits 1 when the answer is wrong (the screenshot is still written, with "-wrong" in its name).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(1)
    proc.kill()
    sys.exit(f"scotd serve did not come up at {url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/scotd-reasoner-135m/onnx-int8")
    parser.add_argument("--source", default="gen:tracking_shuffled_objects/three_objects")
    parser.add_argument("--split", default="test")
    parser.add_argument("--index", type=int, default=0, help="which question of the split (file order)")
    parser.add_argument("--port", type=int, default=7861)
    parser.add_argument("--out", type=Path, default=Path("docs/results/reasoner-chat.png"))
    args = parser.parse_args()

    from distill.solvers import GRADERS, task_family
    from serve.data.sources import load_examples

    example = load_examples(args.source, split=args.split)[args.index]
    url = f"http://127.0.0.1:{args.port}/"
    proc = subprocess.Popen([sys.executable, "-m", "serve.cli", "serve", args.model, "--port", str(args.port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(url, proc)
        from playwright.sync_api import expect, sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                        args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url, wait_until="networkidle")
            page.locator("#question textarea").fill(example.question)
            page.locator("#options textarea").fill("\n".join(example.choices or []))
            page.locator("#ask").click()
            expect(page.locator("#answer")).to_contain_text("Answer", timeout=300_000)
            expect(page.locator("#stats")).to_contain_text("tok/s", timeout=300_000)
            answer_text = page.locator("#answer").inner_text()
            reasoning = " ".join(page.locator("#chat ol li").all_inner_texts())  # the Thinking block's steps
            shown = re.search(r"\([a-z]\)", answer_text)
            right = bool(shown) and shown.group(0) == example.answer
            out = args.out if right else args.out.with_name(args.out.stem + "-wrong" + args.out.suffix)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    grade = GRADERS.get(task_family(args.source))
    report = {"question_id": example.id, "gold": example.answer, "shown": answer_text.strip(), "right": right,
              "screenshot": str(out)}
    if grade is not None:
        result = grade(example.question, example.choices, reasoning)
        report["steps_right"] = f"{result.steps_right}/{result.steps}"
    print(json.dumps(report, indent=2))
    return 0 if right else 1


if __name__ == "__main__":
    raise SystemExit(main())
