"""The dashboard in a real headless Chromium: pages load without console errors, charts render, links
work. Screenshots are saved in tests/artifacts/ for a person to look at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        reason = "BROWSER TESTS SKIPPED: no Chromium at /usr/bin/chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason + " — in CI a skipped browser test is a failure")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


def open_page(browser, path: Path):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def rendered_charts(page) -> int:  # type: ignore[no-untyped-def]
    """Charts with something drawn: plotly's SVG with at least one trace or map path."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].filter(
            (chart) => chart.querySelectorAll('.trace, .choroplethlocation, path.point').length > 0).length"""
    )


def test_overview_map_list_and_filter(browser, published):
    dashboard = published["dashboard"]
    page, errors = open_page(browser, dashboard / "index.html")
    page.wait_for_selector("#map .choroplethlocation")
    assert page.locator("#map .choroplethlocation").count() == 357
    assert rendered_charts(page) == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
    rows = page.locator("#list tbody tr")
    total = rows.count()
    assert total > 0
    office = page.locator("#office option").nth(1).get_attribute("value")
    page.select_option("#office", office)
    visible = page.locator("#list tbody tr:not([hidden])").count()
    assert 0 < visible < total
    assert all(
        office == r.get_attribute("data-office") for r in page.locator("#list tbody tr:not([hidden])").all()
    )
    page.screenshot(path=str(ARTIFACTS / "overview_filtered.png"))
    assert errors == []
    # The first listed kommune's link leads to its profile, which renders.
    link = page.locator("#list tbody tr:not([hidden]) a").first
    name = link.inner_text()
    link.click()
    page.wait_for_selector("#position .trace")
    assert name in page.locator("h1").inner_text()
    assert rendered_charts(page) >= 3
    page.screenshot(path=str(ARTIFACTS / "profile.png"), full_page=True)
    page.locator("nav a", has_text="Oversikt").click()
    page.wait_for_selector("#map .choroplethlocation")
    assert errors == []


def test_funnel_and_method_pages(browser, published):
    dashboard = published["dashboard"]
    page, errors = open_page(browser, dashboard / "traktplott.html")
    page.wait_for_selector(".js-plotly-plot .trace")
    assert rendered_charts(page) >= 5
    page.screenshot(path=str(ARTIFACTS / "funnels.png"), full_page=True)
    page.locator("nav a", has_text="Metode og data").click()
    page.wait_for_load_state("load")
    assert "Udirs regel" in page.content()
    assert errors == []


def test_every_profile_loads_without_errors(browser, published):
    profiles = sorted((published["dashboard"] / "kommuner").glob("*.html"))
    assert len(profiles) == 357
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    for path in profiles[::12]:
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert page.locator(".js-plotly-plot").count() >= 1, path.name
    assert errors == []
