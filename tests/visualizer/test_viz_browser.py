"""The page in headless Chromium: the real swarm drawn as columns and cards, and its errors."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import HOSTNAMES, REPLICAS, SERVICE
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The README's picture is taken again only when asked (a test run leaves the
# checkout as it was): SWARMSTACK_SCREENSHOT=docs/images/visualizer.png.
SCREENSHOT = os.environ.get("SWARMSTACK_SCREENSHOT", "")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1000,600",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile, driven by Debian's chromedriver."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})")
    profile = tempfile.mkdtemp(prefix="viz-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver: webdriver.Chrome, what: str, check: Callable[[webdriver.Chrome], object]) -> None:
    WebDriverWait(driver, 15, poll_frequency=0.2).until(check, message=f"waiting for {what}")


def text_of(driver: webdriver.Chrome, css: str) -> list[str]:
    """The rendered text of every element matching css, read in one script.

    The page replaces its columns on every refresh (2 s). Reading each element's
    text by its own WebDriver call can straddle a refresh and raise
    StaleElementReferenceException; one script runs between two renders.
    """
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText);", css
    )


@pytest.mark.docker
def test_page_draws_the_swarm_and_refreshes(
    browser: webdriver.Chrome, visualizer_url: str, tmp_path: Path
) -> None:
    browser.get(visualizer_url + "/")
    wait(browser, "one column per node", lambda d: len(text_of(d, ".node")) == len(HOSTNAMES))
    first_status = browser.find_element(By.ID, "status").text
    wait(browser, "a refresh", lambda d: d.find_element(By.ID, "status").text != first_status)

    assert text_of(browser, ".node-name") == HOSTNAMES
    assert text_of(browser, ".node .chip.role") == ["manager", "★ leader", "worker"]
    assert (
        len(browser.find_elements(By.CSS_SELECTOR, f'.task[data-service="{SERVICE}"]')) == REPLICAS
    )
    states = text_of(browser, f'.task[data-service="{SERVICE}"] .chip')
    assert states == ["running"] * REPLICAS
    assert not browser.find_element(By.ID, "error").is_displayed()

    fit_window_to_page(browser)
    shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "visualizer.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")


def fit_window_to_page(driver: webdriver.Chrome) -> None:
    """Make the viewport as tall as the page, so the screenshot shows all of it."""
    inner, page = driver.execute_script(
        "return [window.innerHeight, document.documentElement.scrollHeight];"
    )
    size = driver.get_window_size()
    driver.set_window_size(size["width"], size["height"] + page - inner)


def test_page_explains_a_missing_socket(
    browser: webdriver.Chrome, serve: Callable[..., str], tmp_path: Path
) -> None:
    browser.get(serve(docker_socket=str(tmp_path / "docker.sock")) + "/")
    error = browser.find_element(By.ID, "error")
    wait(browser, "the error message", lambda _: error.is_displayed())
    assert error.text.startswith(f"Docker socket {tmp_path / 'docker.sock'} does not exist")
    assert text_of(browser, ".node") == []
