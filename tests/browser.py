"""Headless Chromium from Debian's packages, driven by Selenium (its own browser download cannot be reached).

`python -m tests.browser URL NAME PASSWORD DIR` saves screenshots of the console's main pages (docs/).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000")


def available() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


class Browser:
    """One headless Chromium with a new empty profile, removed when closed."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="paysync-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # -- what a person does ---------------------------------------------------------------
    def open(self, url: str) -> None:
        self.driver.get(url)

    def text(self) -> str:
        """The page's text, once the page a click led to has loaded (a page being replaced is retried)."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        for _ in range(50):
            try:
                return self.driver.find_element(By.TAG_NAME, "body").text
            except StaleElementReferenceException:
                time.sleep(0.1)
        return self.driver.find_element(By.TAG_NAME, "body").text

    def type(self, element_id: str, text: str) -> None:
        from selenium.webdriver.common.by import By

        field = self.driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(text)

    def click(self, element_id: str) -> None:
        """Click like a person, and wait for the page the click submits to replace this one (if it does)."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        body = self.driver.find_element(By.TAG_NAME, "body")
        self.driver.find_element(By.ID, element_id).click()
        try:
            WebDriverWait(self.driver, 2).until(expected_conditions.staleness_of(body))
        except TimeoutException:
            pass  # the click changed this page in place (or nothing): its text is read as it is
        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def sign_in(self, base_url: str, name: str, password: str) -> None:
        self.open(f"{base_url}/login")
        self.type("name", name)
        self.type("password", password)
        self.click("sign-in")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        height = self.driver.execute_script("return Math.min(document.body.scrollHeight + 40, 2400)")
        self.driver.set_window_size(1280, max(700, int(height)))
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1280, 1000)


MAIN_PAGES = (("today", "/today"), ("dead-letters", "/dead-letters"), ("review", "/review"),
              ("reconciliation", "/reconciliation"), ("mapping", "/mapping"))


def screenshot_pages(base_url: str, name: str, password: str, out: Path, story_path: str | None = None) -> list[Path]:
    """Sign in and save a PNG of each main page (and one payment's story) under `out`."""
    saved = []
    with Browser() as browser:
        browser.sign_in(base_url, name, password)
        pages = list(MAIN_PAGES) + ([("payment-story", story_path)] if story_path else [])
        for label, path in pages:
            browser.open(base_url + path)
            saved.append(out / f"console-{label}.png")
            browser.screenshot(saved[-1])
    return saved


if __name__ == "__main__":
    url, user, password, directory = sys.argv[1:5]
    story = sys.argv[5] if len(sys.argv) > 5 else None
    for file in screenshot_pages(url.rstrip("/"), user, password, Path(directory), story):
        print(file)
