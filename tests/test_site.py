"""The static leaderboard site, rendered and sorted in a real headless Chromium (Debian's chromium + chromedriver)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from curbench import boards as board
from curbench.bench.evaluation import declared_directions
from curbench.bench.records import Provenance, ResultRecord, Selection, cell_id
from curbench.bench.sweep import publish
from curbench.boards import site
from curbench.config import DEFAULT_METRICS, RunConfig
from curbench.plugins import load_registry

DIRECTIONS = declared_directions(load_registry(), DEFAULT_METRICS)

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PROVENANCE = Provenance("0.1.0", {}, None, "3.11", "cpu", 1.0, "2026-01-01T00:00:00+00:00")
FIDS = {("random", 100.0): [10.0, 10.5], ("random", 50.0): [12.0, 12.4], ("knn", 50.0): [8.0, 8.2], ("gaussian", 50.0): [14.0, 15.0]}


def _records() -> list[ResultRecord]:
    base = RunConfig(generator_options={"steps": 10})
    records = []
    for (scorer, retention), fids in FIDS.items():
        for seed, fid in enumerate(fids):
            config = base.replace(scorer=scorer, retention=retention, seed=seed).cell()
            records.append(ResultRecord(cell_id(config), config, {"fid": fid, "precision": 0.9, "n_fake": 100, "n_real": 100},
                                        Selection(100, 100 if retention == 100 else 50, "h", {}), {}, {}, PROVENANCE, directions=DIRECTIONS))
    return records


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    root = tmp_path / "leaderboards"
    publish(_records(), root / "demo" / board.RECORDS_DIR)
    board.write_track(root, "demo", tmp_path)
    site.write(root, tmp_path / "site", tmp_path)
    return tmp_path / "site"


def test_check_finds_a_stale_or_missing_page(site_dir: Path):
    root = site_dir.parent / "leaderboards"
    assert site.check(root, site_dir, site_dir.parent) == []
    page = site_dir / "demo.html"
    page.write_text(page.read_text().replace("knn", "KNN"))
    (site_dir / "index.html").unlink()
    problems = site.check(root, site_dir, site_dir.parent)
    assert len(problems) == 2 and any("demo.html: differs" in p for p in problems) and any("index.html: missing" in p for p in problems)


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_the_track_page_renders_and_sorts_by_a_column_in_chromium(site_dir: Path, browser):
    from selenium.webdriver.common.by import By

    browser.get((site_dir / "demo.html").as_uri())
    headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table.sortable th")]
    fid_column = headers.index("FID ↓")
    scorer_column = headers.index("scorer")

    def column(index: int) -> list[str]:
        return [row.find_elements(By.TAG_NAME, "td")[index].text for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr")]

    assert column(scorer_column)[0] == "random"  # the page's own order: full data first
    fid_header = browser.find_elements(By.CSS_SELECTOR, "table.sortable th")[fid_column]
    fid_header.click()
    means = [float(text.split()[0]) for text in column(fid_column)]
    assert means == sorted(means) and column(scorer_column)[0] == "knn"
    assert fid_header.get_attribute("aria-sort") == "ascending"
    fid_header.click()
    assert [float(text.split()[0]) for text in column(fid_column)] == sorted(means, reverse=True)
    images = browser.find_elements(By.TAG_NAME, "img")
    assert images and all(browser.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images)
    browser.get((site_dir / "index.html").as_uri())
    assert "demo" in [a.text for a in browser.find_elements(By.CSS_SELECTOR, "ul a")]
    assert "verdict" in [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table.sortable th")]
