"""Fixtures for end-to-end tests: a real ``fitdata serve`` per test, and headless Chromium.

The browser is the system Chromium driven by Playwright (its own browser download is never
used). ``screenshot(name)`` saves full-page PNGs in the test's tmp dir, and copies them to
``FITDATA_TEST_SCREENSHOTS`` when that names a directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_server import (
    STOP_TIMEOUT_SECONDS,
    Server,
    environment,
    find_chromium,
    fitdata_command,
    free_port,
    wait_until_healthy,
)
from playwright.sync_api import Page, sync_playwright


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = environment(tmp_path / "var", port)
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*fitdata_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, base_url, log)
        yield Server(base_url, env, process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_SECONDS)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium (``make browser`` installs it). Missing: a failure in CI, else a skip.

    Playwright's own browser download is never used: ``FITDATA_TEST_CHROMIUM`` names a binary,
    else ``chromium`` (or ``chromium-browser``) on PATH.
    """
    path = find_chromium()
    if path is not None:
        return path
    reason = (
        "Chromium not found: run `make browser` (installs Debian's chromium) or set "
        "FITDATA_TEST_CHROMIUM to a Chromium binary"
    )
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}:
        pytest.fail(reason)
    pytest.skip(reason)


# Generous: the first render waits on a cold server and a cold browser, not on a bug.
BROWSER_TIMEOUT_MS = 30_000


@pytest.fixture
def page(chromium_path: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1024, "height": 900}, locale="en-US")
            context.set_default_timeout(BROWSER_TIMEOUT_MS)
            yield context.new_page()
            context.close()
        finally:
            browser.close()


@pytest.fixture
def screenshot(page: Page, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """``screenshot(name)``: a full-page PNG in ``tmp_path/screens`` (and the shared folder)."""
    folder = tmp_path / "screens"
    folder.mkdir()
    shared = os.environ.get("FITDATA_TEST_SCREENSHOTS", "").strip()
    prefix = request.node.name.removeprefix("test_")

    def take(name: str) -> Path:
        path = folder / f"{prefix}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if shared:
            Path(shared).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(shared) / path.name)
        return path

    return take
