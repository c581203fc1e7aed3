"""Issue 15 in a real browser (headless Chromium): what only layout can show — labels that
overlap or are clipped, tables wider than a phone — plus the click paths a manager takes:
drill-down to verbatims, an alert to exactly its window, sort / search / export of verbatims.
Screenshots go to test-artifacts/serve/ (named m-*.png)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from .test_browser import query_of, shot, wait_for

ROUTES = ["/", "/map", "/competitors", "/trends", "/verbatims", "/alerts", "/drivers"]

BOXES_JS = """
const svg = arguments[0];
return Array.from(svg.querySelectorAll(arguments[1])).map(t => {
  const b = t.getBBox();
  return [t.textContent, b.x, b.y, b.x + b.width, b.y + b.height];
});
"""


def overlapping(boxes) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5 and a[2] < b[4] - 0.5 and b[2] < a[4] - 0.5:
                out.append((a[0], b[0]))
    return out


MAP_QUERIES = ["brand=United", "brand=Delta", "brand=American",
               "brand=United&category=lost_delayed_bags", "brand=US%20Airways"]  # fmt: skip


@pytest.mark.parametrize("query", MAP_QUERIES)
def test_map_labels_never_overlap(browser, server, artifacts, query):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/map?" + query)
    svg = browser.find_element(By.CSS_SELECTOR, "svg.chart")
    boxes = browser.execute_script(BOXES_JS, svg, "text.lbl, text.quad")
    assert len(boxes) >= 5
    assert overlapping(boxes) == []
    ticks = [b[0] for b in browser.execute_script(BOXES_JS, svg, "text.tick")]
    assert all(int(t[:-1]) <= 100 for t in ticks if re.fullmatch(r"\d+%", t))
    shot(browser, artifacts, "m-map-" + re.sub(r"\W+", "-", query))


@pytest.mark.parametrize("route", ["/", "/competitors"])
@pytest.mark.parametrize("brand", ["Delta", "United", "Virgin America"])
def test_chart_labels_are_not_clipped(browser, server, artifacts, route, brand):
    from selenium.webdriver.common.by import By

    browser.get(server.url + route + "?days=2&brand=" + brand)
    svgs = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert svgs
    for svg in svgs:
        width = browser.execute_script("return arguments[0].viewBox.baseVal.width", svg)
        boxes = browser.execute_script(BOXES_JS, svg, "text")
        for text, x0, _y0, x1, _y1 in boxes:
            assert x0 >= -0.5 and x1 <= width + 0.5, (text, x0, x1, width)
    name = f"m{route.replace('/', '-')}{brand.replace(' ', '-')}-2-days"
    shot(browser, artifacts, name)


@pytest.mark.parametrize("route", ROUTES)
def test_no_horizontal_overflow_on_a_phone(browser, server, artifacts, route):
    browser.set_window_size(390, 900)
    try:
        browser.get(server.url + route + "?brand=United")
        inner = browser.execute_script("return window.innerWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= inner, (scroll, inner)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(390, min(int(height) + 120, 4000))
        browser.save_screenshot(str(artifacts / f"m-phone{route.replace('/', '-') or '-'}.png"))
    finally:
        browser.set_window_size(1280, 1000)


def test_thin_numbers_are_grey_in_the_browser(browser, server, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/competitors?brand=United&days=2")
    thin = browser.find_elements(By.CSS_SELECTOR, "[data-n]")
    assert thin
    for el in thin:
        n = int(el.get_attribute("data-n"))
        if n >= 10 or el.tag_name not in ("span", "text"):
            continue
        color = el.value_of_css_property("color")
        fill = el.value_of_css_property("fill")
        for value in (color, fill):  # never the red or green of sentiment
            assert "26, 152, 80" not in value and "215, 48, 39" not in value, (el.text, value)
    shot(browser, artifacts, "m-competitors-united-2-days")


def test_drill_down_to_verbatims(browser, server, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/trends?brand=United")
    browser.find_element(By.CSS_SELECTOR, "#drill summary").click()
    browser.find_element(By.CSS_SELECTOR, '#drill tr[data-drill="baggage"] a.drill-link').click()
    wait_for(browser, lambda: query_of(browser).get("touchpoint") == ["baggage"])
    assert "/trends" in browser.current_url
    assert "categories of baggage" in browser.find_element(By.ID, "drill").text
    browser.find_element(By.CSS_SELECTOR, "#drill a.drill-link").click()
    wait_for(browser, lambda: "category" in query_of(browser))
    assert "aspects of" in browser.find_element(By.ID, "drill").text
    shot(browser, artifacts, "m-drill-trends-aspects")
    row = browser.find_element(By.CSS_SELECTOR, "#drill tbody tr")
    aspect = row.get_attribute("data-drill")
    row.find_element(By.LINK_TEXT, "verbatims").click()
    wait_for(browser, lambda: "/verbatims" in browser.current_url)
    assert query_of(browser).get("aspect") == [aspect]
    hits = browser.find_elements(By.CSS_SELECTOR, "#verbatims mark.hit")
    assert hits and all(h.get_attribute("title").startswith(aspect + ":") for h in hits)
    shot(browser, artifacts, "m-drill-verbatims-aspect")


def test_alert_opens_exactly_its_window(browser, server, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/trends?brand=United")
    row = browser.find_element(By.CSS_SELECTOR, "#alerts tbody tr")
    negatives = int(row.find_elements(By.CSS_SELECTOR, "td.num")[0].text)
    row.find_element(By.CSS_SELECTOR, "a.alert-link").click()
    wait_for(browser, lambda: "/verbatims" in browser.current_url)
    q = parse_qs(urlparse(browser.current_url).query)
    assert "since" in q and "until" in q
    assert int(browser.find_element(By.ID, "mention-count").text) == negatives
    assert browser.find_element(By.ID, "window").is_displayed()
    shot(browser, artifacts, "m-alert-window-verbatims")


def test_verbatims_sort_search_export_and_unique_cards(browser, server, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server.url + "/verbatims?brand=United")
    posts = [li.get_attribute("data-post") for li in
             browser.find_elements(By.CSS_SELECTOR, "#verbatims li")]  # fmt: skip
    assert posts and len(posts) == len(set(posts))
    Select(browser.find_element(By.ID, "sort")).select_by_value("engaged")
    wait_for(browser, lambda: query_of(browser).get("sort") == ["engaged"])
    engaged = [li.get_attribute("data-post") for li in
               browser.find_elements(By.CSS_SELECTOR, "#verbatims li")]  # fmt: skip
    assert engaged != posts and len(engaged) == len(set(engaged))
    box = browser.find_element(By.ID, "q")
    box.send_keys("delayed")
    browser.find_element(By.ID, "apply").click()
    wait_for(browser, lambda: query_of(browser).get("q") == ["delayed"])
    texts = [t.text.lower() for t in browser.find_elements(By.CSS_SELECTOR, "#verbatims .text")]
    assert texts and all("delayed" in t for t in texts)
    link = browser.find_element(By.ID, "csv").get_attribute("href")
    assert "/verbatims.csv?" in link and "q=delayed" in link and "sort=engaged" in link
    shot(browser, artifacts, "m-verbatims-search-engaged")


def test_period_outside_the_data_and_trend_colours(browser, server, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/?brand=United&from=2014-01-01&to=2014-01-31")
    assert (
        "No data between 2014-01-01 and 2014-01-31"
        in browser.find_element(By.CSS_SELECTOR, ".notice").text
    )
    assert "2014-01-01 to 2014-01-31" in browser.find_element(By.ID, "period").text
    shot(browser, artifacts, "m-period-outside-data")
    browser.get(server.url + "/trends?brand=United")
    legend = browser.find_elements(By.CSS_SELECTOR, "svg line.legend")
    styles = [(el.get_attribute("stroke"), el.get_attribute("stroke-dasharray")) for el in legend]
    assert len(styles) >= 8 and len(set(styles)) == len(styles)
    shot(browser, artifacts, "m-trends-colours")
