"""The Snakemake report as a reader sees it: opened in headless Chromium, clicked through.

Snakemake 9's report.html is a single-file React app. Its menu lists the categories; a category
with several subcategories lists those; a subcategory lists its results in a table whose rows
have a view button. The button of an image or HTML result shows it in the content pane (an
<img>, or an <iframe> of the embedded page); that of any other file is a download link.
Used by tests/test_workflow.py, which installs Chromium with tools/ensure-debian-packages.sh.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headless on a machine without network or display, as root (hence no sandbox); nothing that
# would phone home (component updates, sync, QUIC probes).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WINDOW = (1280, 900)  # a laptop screen: the width a reader has for the report
# Generous: CI runs the suite with every core busy, and the report's inline scripts (React,
# Tailwind, Vega; several MB) are parsed before the first click.
WAIT_S = 60


def start_chromium(profile: Path, log: Path) -> WebDriver:
    """Headless Chromium driven by Debian's chromedriver (Selenium Manager never runs: the
    driver's path is given, so nothing is downloaded)."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(log))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT_S * 3)
    driver.set_script_timeout(WAIT_S)
    return driver


def xpath_text(text: str) -> str:
    assert '"' not in text, text
    return f'"{text}"'


@dataclass
class Figure:
    natural_width: int
    width: float
    pane_left: float
    pane_right: float
    left: float
    right: float
    pane_overflows: bool
    window: float

    @property
    def scale(self) -> float:
        return self.width / self.natural_width


class Report:
    """A report.html opened in the browser; `results` and `categories` are the report's own
    data (what it registered), read from the page."""

    def __init__(self, driver: WebDriver, path: Path):
        self.driver = driver
        # A click re-renders the navbar: an element found just before may be gone.
        self.wait = WebDriverWait(
            driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)
        )
        driver.get(path.as_uri())
        self.wait.until(lambda d: self.menu_item("Workflow"))
        self.results: dict[str, dict] = driver.execute_script("return results")
        self.categories: dict[str, dict[str, list[str]]] = driver.execute_script(
            "return categories"
        )

    def menu_item(self, label: str) -> WebElement | None:
        """The navbar entry (menu, category or subcategory) named `label`."""
        found = self.driver.find_elements(
            By.XPATH, f"//nav//ul/li/a[span[normalize-space()={xpath_text(label)}]]"
        )
        return found[0] if found else None

    def click(self, find, message: str) -> None:
        """Click what `find(driver)` returns, once it is there (found again if it went stale)."""

        def clicked(driver) -> bool:
            element = find(driver)
            if element is None:
                return False
            element.click()
            return True

        self.wait.until(clicked, message)

    def click_menu_item(self, label: str) -> None:
        self.click(lambda d: self.menu_item(label), f"no navbar entry {label!r}")

    def named(self, stem: str) -> str:
        """The one result whose path is `stem` plus a suffix."""
        found = [path for path in self.results if path.rsplit(".", 1)[0] == stem]
        assert len(found) == 1, f"{len(found)} results named {stem}: {found}"
        return found[0]

    def where(self, path: str) -> tuple[str, str]:
        """The category and subcategory that list `path`."""
        found = [
            (cat, sub)
            for cat, subs in self.categories.items()
            for sub, paths in subs.items()
            if path in paths
        ]
        assert found, "not in the report"
        return found[0]

    def view_button(self, path: str) -> WebElement:
        """Navigate home -> category -> subcategory, as a reader does; the button on `path`'s
        row of the results table."""
        category, subcategory = self.where(path)
        home = (By.CSS_SELECTOR, "nav nav ol li a")  # the breadcrumbs' house icon
        self.click(lambda d: d.find_element(*home), "no home link")
        self.click_menu_item("Results" if len(self.categories) == 1 else category)
        if len(self.categories[category]) > 1:
            self.click_menu_item(subcategory)
        row = f"//table//tr[td[1][normalize-space()={xpath_text(path)}]]"
        return self.wait.until(
            lambda d: d.find_element(By.XPATH, f"{row}/td[last()]//a[1]"),
            f"{path} is not listed under {category} / {subcategory}",
        )

    def shown(self, tag: str, uri: str) -> WebElement | None:
        """The <img> or <iframe> in the content pane that shows `uri`."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])]"
            ".find(el => el.getAttribute('src') === arguments[1]) || null",
            tag,
            uri,
        )

    def open_inline(self, path: str, tag: str) -> WebElement:
        button = self.view_button(path)
        assert button.get_dom_attribute("download") is None, (
            f"{path} is offered as a download ({self.results[path]['mime_type']}), not shown"
        )
        button.click()
        uri = self.results[path]["data_uri"]
        return self.wait.until(lambda d: self.shown(tag, uri), f"{path}: no <{tag}> shows it")

    def table(self, path: str) -> tuple[int, str]:
        """Show an HTML result: the number of body rows of the <table> in its frame, and the
        frame's text."""
        frame = self.open_inline(path, "iframe")
        assert frame.size["width"] > 0 and frame.size["height"] > 0, (path, frame.size)
        self.driver.switch_to.frame(frame)
        try:
            rows = self.wait.until(
                lambda d: d.find_elements(By.CSS_SELECTOR, "table tbody tr"),
                f"{path}: its frame shows no table rows",
            )
            return len(rows), self.driver.find_element(By.TAG_NAME, "body").text
        finally:
            self.driver.switch_to.default_content()

    def figure(self, path: str) -> Figure:
        """Show an image result, once it is decoded: its size and place on the page."""
        img = self.open_inline(path, "img")
        self.wait.until(
            lambda d: d.execute_script("return arguments[0].complete", img),
            f"{path}: the image never finished loading",
        )
        box = self.driver.execute_script(
            """const img = arguments[0], pane = img.closest('.overflow-auto');
            const r = img.getBoundingClientRect(), p = pane.getBoundingClientRect();
            return {natural_width: img.naturalWidth, width: r.width, left: r.left,
                    right: r.right, pane_left: p.left, pane_right: p.right,
                    pane_overflows: pane.scrollWidth > pane.clientWidth,
                    window: window.innerWidth};""",
            img,
        )
        return Figure(**box)

    def download(self, path: str) -> tuple[str | None, bytes]:
        """The download link of a result: its file name and the bytes it holds."""
        button = self.view_button(path)
        href = button.get_dom_attribute("href") or ""
        assert href.startswith("data:") and ";base64," in href, f"{path}: no data link"
        return button.get_dom_attribute("download"), base64.b64decode(href.split(";base64,", 1)[1])
