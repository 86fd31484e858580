"""The side-by-side kit in a real browser: Debian's headless Chromium driven by Playwright.

Clicks and keys through several pairs, reloads (the votes live in localStorage), exports (the
page's function and the download button), and checks that the report counts exactly the
votes given, on the model side. ``make test`` installs Chromium (apt, as root); without it the
test fails, unless ``CRAFT_SKIP_BROWSER=1``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from craft_dag.evaluation.sbs_kit import kit_id, layout, write_kits
from craft_dag.evaluation.sbs_report import ALL, load_votes, report
from tests.evaluation.test_sbs_kit import make_pairs

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEYS = {
    "alignment": {"left": "1", "right": "2", "tie": "3"},
    "quality": {"left": "q", "right": "w", "tie": "e"},
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """The test's output stays about the test."""


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """The kit's folder over HTTP on 127.0.0.1, a real origin for the page's localStorage.

    A person opens the file directly; the test does not, because Chromium under automation
    lost a file:// page's localStorage across a reload once in a fresh-clone run, and the test
    is about the page, not about how Chromium keeps file:// storage.
    """
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def chromium_path() -> str:
    """The system Chromium, or fail (skip with CRAFT_SKIP_BROWSER=1) saying how to get it."""
    if os.environ.get("CRAFT_SKIP_BROWSER") == "1":
        pytest.skip("CRAFT_SKIP_BROWSER=1")
    for candidate in (os.environ.get("CRAFT_CHROMIUM"), "/usr/bin/chromium", "chromium"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "Chromium is missing: `make test` installs Debian's chromium with apt-get when run as "
        "root (or: sudo apt-get install chromium); set CRAFT_SKIP_BROWSER=1 to skip this test"
    )


def side_for(choice: str, shown_left: str) -> str:
    """The screen side to press for a model choice, given which model is on the left."""
    if choice == "tie":
        return "tie"
    return "left" if choice == shown_left else "right"


def test_kit_in_chromium(tmp_path: Path) -> None:
    executable = chromium_path()
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is missing: it is in the dev extra (pip install -e '.[dev]')")
    pairs = make_pairs(5)
    assessor = "anna"
    (kit,) = write_kits(pairs, [assessor], tmp_path / "kits", seed=11, title="SbS test")
    sides = layout(pairs, assessor, 11)
    # What the test means to vote, on the model side, and how: keyboard ("k") or mouse ("m").
    plan: list[dict[str, tuple[str, str]]] = [
        {"alignment": ("b", "k"), "quality": ("a", "k")},
        {"alignment": ("tie", "m"), "quality": ("b", "m")},
        {"alignment": ("a", "k"), "quality": ("tie", "m")},
        {"alignment": ("b", "m")},  # pair 4 half done, pair 5 untouched
    ]
    timings: dict[str, float] = {}
    ARTIFACTS.mkdir(exist_ok=True)
    start = time.perf_counter()
    with serve(kit.parent) as origin, sync_api.sync_playwright() as pw:
        url = f"{origin}/{kit.name}"
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=True,
        )
        timings["launch"] = time.perf_counter() - start
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]")
            timings["load"] = time.perf_counter() - start - timings["launch"]
            embedded = page.evaluate("JSON.parse(document.getElementById('craft-kit').textContent)")
            assert {p["pair_id"]: p["shown_left"] for p in embedded["pairs"]} == sides
            assert page.inner_text("#progress") == "1 / 5"
            assert page.evaluate("document.getElementById('img-left').naturalWidth") == 64

            def press(question: str, choice: str, how: str, pair: dict[str, Any]) -> None:
                side = side_for(choice, sides[pair["pair_id"]])
                if how == "k":
                    page.keyboard.press(KEYS[question][side])
                else:
                    page.click(f".question[data-question={question}] button[data-side={side}]")

            for i, votes in enumerate(plan):
                assert page.get_attribute("#pair", "data-pair-id") == pairs[i]["pair_id"]
                if i == 1:  # a first answer changed: only the last one counts
                    press("quality", "a", "m", pairs[i])
                for question, (choice, how) in votes.items():
                    press(question, choice, how, pairs[i])
                    chosen = page.get_attribute(
                        f".question[data-question={question}]", "data-chosen"
                    )
                    assert chosen == side_for(choice, sides[pairs[i]["pair_id"]])
                if i == 0:  # the three ways to the next pair
                    page.keyboard.press("Enter")
                elif i == 1:
                    page.keyboard.press("ArrowRight")
                elif i == 2:
                    page.click("#next")
            assert page.inner_text("#progress") == "4 / 5"
            assert page.inner_text("#done") == "3 of 5 rated"
            key = f"craft-sbs:{kit_id(pairs, 11)}:{assessor}"
            assert page.evaluate(f"localStorage.getItem({json.dumps(key)}) !== null")

            # Chromium hands localStorage writes to its browser process asynchronously; a reload
            # within milliseconds of the last click can read the state before it. Wait until a
            # second tab sees the saved state (what a person reloading later would get).
            saved_state = page.evaluate(f"localStorage.getItem({json.dumps(key)})")
            other = context.new_page()
            other.goto(url)
            deadline = time.monotonic() + 10
            while other.evaluate(f"localStorage.getItem({json.dumps(key)})") != saved_state:
                assert time.monotonic() < deadline, "the votes never reached the browser's storage"
                other.wait_for_timeout(50)
            other.close()

            page.reload()
            page.wait_for_selector("body[data-ready=true]")
            assert page.inner_text("#progress") == "4 / 5", page.evaluate(
                "JSON.stringify(localStorage)"
            )
            assert page.inner_text("#done") == "3 of 5 rated"
            page.keyboard.press("ArrowLeft")
            assert page.inner_text("#progress") == "3 / 5"
            for question, (choice, _) in plan[2].items():
                chosen = page.get_attribute(f".question[data-question={question}]", "data-chosen")
                assert chosen == side_for(choice, sides[pairs[2]["pair_id"]])
            page.screenshot(path=str(ARTIFACTS / "sbs_kit.png"), full_page=True)

            exported = json.loads(page.evaluate("window.craftExportVotes()"))
            with page.expect_download() as info:
                page.click("#export")
            download = tmp_path / info.value.suggested_filename
            info.value.save_as(download)
            timings["total"] = time.perf_counter() - start
        finally:
            context.close()

    saved = json.loads(download.read_text("utf-8"))
    assert download.name == f"votes_anna_{kit_id(pairs, 11)}.json"
    assert saved["votes"] == exported["votes"]
    assert (saved["kit_id"], saved["assessor"]) == (kit_id(pairs, 11), assessor)
    expected = {
        (pairs[i]["pair_id"], question): choice
        for i, votes in enumerate(plan)
        for question, (choice, _) in votes.items()
    }
    got = {(v["pair_id"], v["question"]): v["choice"] for v in saved["votes"]}
    assert got == expected
    for row in saved["votes"]:
        assert row["shown_left"] == sides[row["pair_id"]]
        assert (row["model_a"], row["model_b"]) == ("base-k31", "craft-tuned")

    rep = report(load_votes([download]), bootstrap=100)
    assert rep.votes == len(expected) == 7
    alignment = rep.tally("base-k31", "craft-tuned", "alignment", ALL)
    assert (alignment.wins_b, alignment.ties, alignment.wins_a) == (2, 1, 1)
    quality = rep.tally("base-k31", "craft-tuned", "quality", ALL)
    assert (quality.wins_b, quality.ties, quality.wins_a) == (1, 1, 1)
    print("chromium timings (s):", {k: round(v, 2) for k, v in timings.items()})
