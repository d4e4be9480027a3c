"""The web chat example in a real headless Chromium (Debian's chromium + chromium-driver).

The dev server runs in a thread of this process (so the test can see which
requests reached it), the web chat runs as its README says (its own process),
and Selenium drives the page as a person would: an approval card approved,
a slow run stopped, a page reloaded mid-run (the run must be stopped on the
server), an error shown. Set ``LLMRIX_WEB_CHAT_SCREENSHOTS`` to a folder to
keep a PNG of each state (the docs' pictures come from there).

Without Chromium the test is skipped, except in CI (``CI`` set), where it fails:
``.ci/run`` installs the browser.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from llmrix.devserver import DevServer

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "web_chat" / "app.py"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT = 20.0


def need_browser() -> None:
    if CHROMIUM and CHROMEDRIVER:
        return
    message = "chromium and chromium-driver (Debian packages) are needed for the browser test"
    if os.environ.get("CI"):
        pytest.fail(message + ": .ci/run should have installed them")
    pytest.skip("NOTICE: " + message)


class ThreadedDevServer:
    """A DevServer on its own event loop in a thread; its ``requests`` stay readable here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = DevServer(slow_delay=0.1)

    def __enter__(self) -> DevServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(WAIT)
        return self.server

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(WAIT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def dev() -> Iterator[DevServer]:
    with ThreadedDevServer() as server:
        yield server


@pytest.fixture
def web_chat(dev: DevServer) -> Iterator[str]:
    """The README's command, on a free port; yields the page's URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(APP), "--llmrix", dev.base_url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    assert b"llmrix web chat" in response.read()
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.05)
        else:
            pytest.fail("the web chat did not start")
        yield url
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=WAIT)
        assert b"Traceback" not in stderr, stderr.decode()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    need_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=900,760"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, what: str, condition: Callable[[WebDriver], object]) -> None:
    WebDriverWait(driver, WAIT, poll_frequency=0.05).until(condition, f"waiting for {what}")


def wait_on_server(condition: Callable[[], bool], what: str) -> None:
    for _ in range(int(WAIT / 0.02)):
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def send(driver: WebDriver, text: str) -> None:
    box = driver.find_element(By.ID, "message")
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()


def status(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "status").text)


def replies(driver: WebDriver) -> str:
    return "\n".join(node.text for node in driver.find_elements(By.CSS_SELECTOR, ".assistant"))


def stops(server: DevServer) -> int:
    return sum(r.method == "POST" and r.raw_path.endswith("/chat/stop") for r in server.requests)


def screenshot(driver: WebDriver, name: str) -> None:
    folder = os.environ.get("LLMRIX_WEB_CHAT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"web-chat-{name}.png"))


def test_web_chat_in_a_real_browser(dev: DevServer, web_chat: str, browser: WebDriver) -> None:
    browser.get(web_chat)

    send(browser, "Delete old backups /tool /hitl")
    wait_for(browser, "the approval card", lambda d: d.find_elements(By.CSS_SELECTOR, ".card"))
    card = browser.find_element(By.CSS_SELECTOR, ".card")
    assert "Approval needed: dangerous_action" in card.text
    assert '"target": "Delete old backups"' in card.find_element(By.CSS_SELECTOR, "pre").text
    assert "web_search" in browser.find_element(By.CSS_SELECTOR, ".tool").text
    assert status(browser) == "Waiting for your approval"
    screenshot(browser, "approval")

    card.find_element(By.CSS_SELECTOR, ".approve").click()
    wait_for(browser, "the resumed run to finish", lambda d: status(d) == "Done")
    assert "The dangerous_action was approved and ran." in replies(browser)
    lines = [node.text for node in browser.find_elements(By.CSS_SELECTOR, ".tool")]
    assert '⚙ dangerous_action {"target":"Delete old backups"} → approved' in lines
    screenshot(browser, "approved")

    send(browser, "Tell me a long story /slow")
    wait_for(browser, "slow text", lambda d: "deliberately" in replies(d))
    screenshot(browser, "streaming")
    before = stops(dev)
    browser.find_element(By.ID, "stop").click()
    wait_for(browser, "the cancelled run", lambda d: status(d) == "Run cancelled")
    assert stops(dev) == before + 1
    assert "entirely uninteresting sentence" not in replies(browser)
    screenshot(browser, "stopped")

    send(browser, "Another long story /slow")
    wait_for(browser, "slow text", lambda d: "Another long story" in replies(d))
    before = stops(dev)
    browser.refresh()
    wait_on_server(lambda: stops(dev) == before + 1, "the relay to stop the abandoned run")
    wait_on_server(lambda: dev.live_streams == 0, "the run's stream to end on the server")
    wait_for(browser, "the fresh page", lambda d: d.find_elements(By.ID, "message"))
    assert replies(browser) == ""

    send(browser, "Break please /error")
    wait_for(browser, "the error", lambda d: d.find_elements(By.CSS_SELECTOR, ".error"))
    error = browser.find_element(By.CSS_SELECTOR, ".error").text
    assert error == "Error: the scripted agent failed on purpose (agent_failure)"
    screenshot(browser, "error")
