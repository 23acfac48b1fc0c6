"""The console in Debian's Chromium (headless, selenium, /usr/bin/chromedriver) against a
real ``radio-district web`` process, on a store filled by the real collector from a real
Mosquitto: log in, see the fleet, watch a station go offline without a reload, acknowledge
its alert on the Cảnh báo page, check a
compliance cell against ``radio-district report --format json``, upload a broken catalogue
and see its errors, publish a good one, download the evidence zip and ``verify`` it, and a
commune user gets 404 for another commune. Every request stays on the console's origin, no
page scrolls sideways at 360 px, and each page is photographed under the test's tmp_path
(``UPDATE_DOCS_SCREENSHOT=1`` also copies the compliance page to docs/)."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from test_views_catalogue import BROKEN, GOOD
from waiting import wait_until
from web_browser_kit import KOI, PASSWORD, RUONG, Site, chrome, cli, requested_urls, start_site

REPO = Path(__file__).resolve().parents[2]
needs_chromium = pytest.mark.skipif(not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()),
                                    reason="Debian packages chromium and chromium-driver are not installed")
pytestmark = [needs_chromium, pytest.mark.timeout(600)]
PERIOD = ("2024-03-01", "2024-03-31")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = start_site(tmp_path_factory.mktemp("site"))
    try:
        site.station_online(KOI, site.env.chain(KOI, 3))
        wait_until(lambda: site.stored_events() == 3, 60, "the collector storing dak-koi-01's events")
        yield site
    finally:
        site.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = chrome(tmp_path / "downloads", tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


def login(driver: webdriver.Chrome, site: Site, name: str) -> None:
    driver.get(site.url + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-button").click()
    wait_until(lambda: driver.current_url.endswith("/fleet"), 60, "the fleet page after login")


def shoot(driver: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    path = tmp_path / "screenshots" / f"{name}.png"
    path.parent.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(path))
    return path


def no_sideways_scroll(driver: webdriver.Chrome, site: Site, paths: list[str]) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 360, "height": 780, "deviceScaleFactor": 2, "mobile": True})
    try:
        for path in paths:
            driver.get(site.url + path)
            wide = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
            assert wide[0] <= wide[1], f"{path} scrolls sideways at 360 px: {wide}"
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


OFFLINE_CARD = f'#open-alerts article[data-kind="station-offline"][data-station="{KOI}"]'


def open_alerts_tab(driver: webdriver.Chrome, site: Site) -> str:
    """The Cảnh báo page in a second tab, opened while dak-koi-01 is still connected."""
    driver.switch_to.new_window("tab")
    driver.get(site.url + "/alerts")
    assert not any("ngắt kết nối" in el.text for el in driver.find_elements(By.CSS_SELECTOR, OFFLINE_CARD))
    return str(driver.current_window_handle)


def acknowledge_offline_alert(driver: webdriver.Chrome, tmp_path: Path) -> None:
    """Cảnh báo: the collector's alert pass opened ``station-offline`` for the vanished station
    (its will: "máy chủ báo trạm đã ngắt kết nối"); the page, open since before, shows it by
    its polling; the district user acknowledges it with a note."""
    def typed_note() -> bool:
        """The offline card found and its note typed; False (try again) while the card is
        not there or the page's poll swapped the list under us (another alert opened): once
        a note holds text, the page no longer swaps the list."""
        try:
            cards = [el for el in driver.find_elements(By.CSS_SELECTOR, OFFLINE_CARD) if "ngắt kết nối" in el.text]
            if not cards:
                return False
            assert "Trạm mất kết nối" in cards[0].text and "Xã Đăk Kôi" in cards[0].text
            cards[0].find_element(By.NAME, "note").send_keys("Đã gọi cán bộ xã")
            return True
        except StaleElementReferenceException:
            return False

    wait_until(typed_note, 90, "the station-offline alert of dak-koi-01 on the open Cảnh báo page")
    article = [el for el in driver.find_elements(By.CSS_SELECTOR, OFFLINE_CARD) if "ngắt kết nối" in el.text][0]
    assert article.find_element(By.NAME, "note").get_attribute("value") == "Đã gọi cán bộ xã"
    assert driver.find_element(By.ID, "alert-count").text.isdigit()
    article.find_element(By.CLASS_NAME, "ack-button").click()
    wait_until(lambda: driver.find_elements(By.ID, "acked"), 60, "the acknowledgement")
    article_id = driver.find_element(By.ID, "acked").text.split("#")[1].split(":")[0]
    acked = driver.find_element(By.CSS_SELECTOR, f'#open-alerts article[data-alert="{article_id}"] .ack').text
    assert "web:chi" in acked and "Đã gọi cán bộ xã" in acked, acked
    shoot(driver, tmp_path, "alerts")


def test_web_browser_district_user_end_to_end(site: Site, browser: webdriver.Chrome, tmp_path: Path) -> None:
    driver = browser
    urls: list[str] = []
    login(driver, site, "chi")
    # the fleet: both stations, dak-koi-01 online (its signed status reached the store)
    driver.get(site.url + "/fleet")
    rows = {tr.get_attribute("data-station"): tr for tr in driver.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")}
    assert set(rows) == {KOI, RUONG}
    badge = f'#fleet tr[data-station="{KOI}"] [data-field="state"] .badge'
    wait_until(lambda: "ok" in driver.find_element(By.CSS_SELECTOR, badge).get_attribute("class").split(),
               60, "dak-koi-01 shown online")
    assert driver.find_elements(By.CSS_SELECTOR, f'#map .pt[data-station="{KOI}"]')
    shoot(driver, tmp_path, "fleet")
    # the station vanishes: its Last Will reaches the collector, and the page follows without a reload
    fleet_tab = driver.current_window_handle
    alerts_tab = open_alerts_tab(driver, site)
    driver.switch_to.window(fleet_tab)
    driver.execute_script("window.__sameDocument = 42;")
    site.station_vanishes(KOI)
    wait_until(lambda: "offline" in driver.find_element(By.CSS_SELECTOR, badge).get_attribute("class").split(),
               90, "dak-koi-01 shown offline on the open page")
    assert driver.execute_script("return window.__sameDocument;") == 42
    assert "offline" in driver.find_element(By.CSS_SELECTOR, f'#map .pt[data-station="{KOI}"]').get_attribute("class")
    urls += requested_urls(driver)
    driver.switch_to.window(alerts_tab)
    acknowledge_offline_alert(driver, tmp_path)
    urls += requested_urls(driver)

    # compliance: every cell of the commune's weeks, its tier and points are the report's
    driver.get(site.url + f"/compliance?from={PERIOD[0]}&to={PERIOD[1]}")
    done = cli(site.config, "report", "--from", PERIOD[0], "--to", PERIOD[1], "--format", "json")
    assert done.returncode == 0, done.stderr
    report = {c["code"]: c for c in json.loads(done.stdout)["communes"]}
    for code, entry in report.items():
        row = driver.find_element(By.CSS_SELECTOR, f'#grid-weeks tr[data-commune="{code}"]')
        states = [td.get_attribute("data-state") for td in row.find_elements(By.CSS_SELECTOR, "td.cell")]
        assert states == entry["weeks_grid"], code
        assert row.find_element(By.CSS_SELECTOR, '[data-field="tier"]').get_attribute("data-tier") == entry["tier"]
        points = row.find_element(By.CSS_SELECTOR, '[data-criterion="1.5"]').text
        assert float(points) == float(entry["criteria"]["1.5"]), code
    aired = driver.find_element(By.CSS_SELECTOR, '#grid-weeks tr[data-commune="23335"] td[data-week="2024-W10"]')
    assert aired.get_attribute("data-state") == "aired"
    aired.click()
    wait_until(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#cell-rows tr")) == 3, 30,
               "the three airings behind the cell")
    shoot(driver, tmp_path, "compliance")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(tmp_path / "screenshots" / "compliance.png", REPO / "docs" / "console-compliance.png")
    driver.get(site.url + f"/stations/{KOI}?from={PERIOD[0]}&to={PERIOD[1]}")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#as-run tbody tr")) == 3
    shoot(driver, tmp_path, "station")
    urls += requested_urls(driver)

    # the catalogue: a broken file shows its errors with line and key; a good one publishes
    for name, data in (("thang-12-loi.yaml", BROKEN), ("thang-12.yaml", GOOD)):
        (tmp_path / name).write_bytes(data)
    driver.get(site.url + "/catalogue")
    driver.find_element(By.ID, "catalogue-file").send_keys(str(tmp_path / "thang-12-loi.yaml"))
    driver.find_element(By.ID, "check-button").click()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#upload-errors tbody tr"), 60, "the upload's errors")
    errors = {(tr.find_element(By.CSS_SELECTOR, '[data-field="line"]').text,
               tr.find_element(By.CSS_SELECTOR, '[data-field="key"]').text)
              for tr in driver.find_elements(By.CSS_SELECTOR, "#upload-errors tbody tr")}
    assert {("3", "segments[0].media"), ("5", "slots[0].at"), ("6", "slots[1].segment")} <= errors
    assert not driver.find_elements(By.ID, "publish-form")
    shoot(driver, tmp_path, "catalogue-errors")
    driver.find_element(By.ID, "catalogue-file").send_keys(str(tmp_path / "thang-12.yaml"))
    driver.find_element(By.ID, "check-button").click()
    wait_until(lambda: driver.find_elements(By.ID, "publish-button"), 60, "the preview's publish button")
    shoot(driver, tmp_path, "catalogue-preview")
    driver.find_element(By.ID, "publish-button").click()
    wait_until(lambda: driver.find_elements(By.ID, "published"), 120, "the publish result")
    assert "2026-12" in driver.find_element(By.ID, "published").text
    versions = {tr.get_attribute("data-station"): tr.text for tr in driver.find_elements(By.CSS_SELECTOR, "#rollout tbody tr")}
    assert set(versions) == {KOI, RUONG}
    urls += requested_urls(driver)

    # the evidence bundle: downloaded by the browser, verified by radio-district verify
    driver.get(site.url + f"/reports?from={PERIOD[0]}&to={PERIOD[1]}")
    shoot(driver, tmp_path, "reports")
    driver.find_element(By.ID, "download-zip").click()
    downloads = tmp_path / "downloads"
    zipped = wait_until(lambda: [p for p in downloads.glob("*.zip")] if downloads.exists() else None, 180,
                        "the evidence zip in the download folder")[0]
    wait_until(lambda: not list(downloads.glob("*.crdownload")), 60, "the download to finish")
    with zipfile.ZipFile(zipped) as zf:
        zf.extractall(tmp_path / "bundle")
    (bundle,) = (tmp_path / "bundle").iterdir()
    verdict = cli(site.config, "verify", str(bundle))
    assert verdict.returncode == 0 and "VERIFIED" in verdict.stdout, verdict.stdout + verdict.stderr
    urls += requested_urls(driver)

    no_sideways_scroll(driver, site, ["/fleet", "/compliance", f"/stations/{KOI}", "/catalogue", "/reports",
                                      "/stations", "/alerts"])
    urls += requested_urls(driver)
    # the browser's own chrome:// pages (its start page) never touch the network; anything
    # else must be this origin
    ours = [u for u in urls if not u.startswith(("chrome://", "chrome-untrusted://", "data:", "blob:", "about:"))]
    assert len(ours) > 20 and all(u.startswith(site.url + "/") for u in ours), \
        sorted({u for u in ours if not u.startswith(site.url + "/")})


def test_web_browser_commune_user_sees_only_its_commune(site: Site, browser: webdriver.Chrome,
                                                         tmp_path: Path) -> None:
    driver = browser
    login(driver, site, "koi")
    rows = [tr.get_attribute("data-station") for tr in driver.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")]
    assert rows == [KOI]
    driver.get(site.url + f"/stations/{RUONG}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "404"
    shoot(driver, tmp_path, "other-commune-404")
    driver.get(site.url + f"/api/v1/stations/{RUONG}")
    assert json.loads(driver.find_element(By.TAG_NAME, "body").text) == {"error": "Không tìm thấy trang."}
    driver.get(site.url + "/users")
    assert driver.find_element(By.TAG_NAME, "h1").text == "403"


def test_web_browser_admin_sees_users_and_the_audit_log(site: Site, browser: webdriver.Chrome,
                                                        tmp_path: Path) -> None:
    driver = browser
    login(driver, site, "quan-tri")
    driver.get(site.url + "/users?lang=en")
    names = [tr.get_attribute("data-user") for tr in driver.find_elements(By.CSS_SELECTOR, "#users tbody tr")]
    assert names == sorted(["chi", "koi", "quan-tri"])
    actions = [tr.find_elements(By.TAG_NAME, "td")[2].text for tr in driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
    assert actions.count("user.add") == 3
    shoot(driver, tmp_path, "users")
    no_sideways_scroll(driver, site, ["/users"])
