"""The dashboard in a real headless Chromium: pages load without console errors, charts render, links
work, the map has its legend, no toolbar covers a chart's title, every chart uses the decimal comma.
Screenshots are saved in tests/artifacts/ for a person to look at."""

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


def chart_problems(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Charts whose toolbar (shown or not: plotly shows it on hover) overlaps their title, or whose
    numbers would not have a decimal comma."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap((chart) => {
            const problems = [];
            const title = chart.querySelector('.gtitle');
            const bar = chart.querySelector('.modebar');
            if (title && bar) {
                const a = title.getBoundingClientRect(), b = bar.getBoundingClientRect();
                if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
                    problems.push(`${chart.id}: toolbar over the title`);
                }
            }
            if (chart._fullLayout.separators !== ',\u00a0') {
                problems.push(`${chart.id}: separators ${chart._fullLayout.separators}`);
            }
            return problems;
        })"""
    )


def test_overview_map_list_and_filter(browser, published):
    dashboard = published["dashboard"]
    page, errors = open_page(browser, dashboard / "index.html")
    page.wait_for_selector("#map .choroplethlocation")
    assert page.locator("#map .choroplethlocation").count() == 357
    assert rendered_charts(page) == 2
    # The legend names every colour on the map.
    legend = page.locator("#map .legend .traces .legendtext").all_text_contents()
    assert legend == ["klar kandidat", "grensetilfelle", "klart ikke", "ingen vurdering"]
    assert chart_problems(page) == []
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
    assert chart_problems(page) == []
    page.screenshot(path=str(ARTIFACTS / "profile.png"), full_page=True)
    page.locator("nav a", has_text="Oversikt").click()
    page.wait_for_selector("#map .choroplethlocation")
    assert errors == []


def test_funnel_and_method_pages(browser, published):
    dashboard = published["dashboard"]
    page, errors = open_page(browser, dashboard / "traktplott.html")
    page.wait_for_selector(".js-plotly-plot .trace")
    assert rendered_charts(page) >= 5
    assert chart_problems(page) == []
    page.screenshot(path=str(ARTIFACTS / "funnels.png"), full_page=True)
    page.locator("nav a", has_text="Metode og data").click()
    page.wait_for_load_state("load")
    assert "Udirs regel" in page.content()
    page.screenshot(path=str(ARTIFACTS / "method.png"), full_page=True)
    assert errors == []


def test_fylkeskommuner_overview_and_profile(browser, published):
    page, errors = open_page(browser, published["dashboard"] / "index.html")
    page.locator("nav a", has_text="Fylkeskommuner").click()
    page.wait_for_selector("#ranks .trace")
    assert page.locator("table tbody tr").count() == 15
    assert chart_problems(page) == []
    page.screenshot(path=str(ARTIFACTS / "fylkeskommuner.png"), full_page=True)
    page.locator("table tbody a").first.click()
    page.wait_for_selector("#position .trace")
    assert "fylkeskommune" in page.locator("h1").inner_text()
    assert rendered_charts(page) >= 5
    assert chart_problems(page) == []
    page.screenshot(path=str(ARTIFACTS / "fylkeskommune_profile.png"), full_page=True)
    assert errors == []


def test_a_hidden_figure_is_marked_on_the_chart(browser, published, national_run):
    """Where a kommune's figure is hidden, its chart shows a marker named in the legend."""
    figures = national_run.table("published_figures")
    code = figures.filter((figures["level"] == "municipality") & figures["hidden"])["unit_code"][0]
    page, errors = open_page(browser, published["dashboard"] / "kommuner" / f"{code}.html")
    page.wait_for_selector(".grid .js-plotly-plot .legend")
    assert page.locator(".legendtext", has_text="skjult (færre enn 10 elever)").count() >= 1
    assert chart_problems(page) == []
    page.screenshot(path=str(ARTIFACTS / "profile_hidden.png"), full_page=True)
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
