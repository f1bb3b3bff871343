"""The page at ``/`` of ``docfleet serve`` in a real headless Chromium, against a real server:
upload, a job shown running before its first page is done, a partial job told apart from a
clean one, the Markdown rendered with a document's markup as text, JSONL and zip downloads.

Needs Selenium and Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``); the browser tests skip without them. The driver is never downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("multipart")
requests = pytest.importorskip("requests")

from docs_factory import Span, one_column_page, reportlab_pdf, slow_render_pdf  # noqa: E402

KEY = "test-key-0123"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 120
TERMINAL = ("done", "partial", "failed", "cancelled")  # as the page shows a job that ended


@pytest.fixture(scope="module")
def server(serve_process, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    root = tmp_path_factory.mktemp("serve-ui")
    srv = serve_process(root / "data", "--api-key", KEY, "--max-pages", "20").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[object]:
    pytest.importorskip("selenium")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.skip(f"{path} is missing (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--no-first-run"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
    })  # fmt: skip
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_the_page_loads_without_the_key_and_allows_only_itself(server) -> None:
    r = requests.get(f"{server.url}/", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    policy = r.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy
    for tag in ('id="files"', 'id="upload"', 'id="markdown"', 'id="api-key"'):
        assert tag in r.text
    assert "http://" not in r.text and "https://" not in r.text  # nothing from elsewhere
    assert requests.get(f"{server.url}/v1/jobs", timeout=10).status_code == 401


def _enter_key(driver, key: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    field = WebDriverWait(driver, 30).until(ec.visibility_of_element_located((By.ID, "api-key")))
    field.send_keys(key)
    driver.find_element(By.ID, "key-save").click()
    WebDriverWait(driver, 30).until(ec.invisibility_of_element_located((By.ID, "key-form")))


def test_upload_watch_read_and_download(browser, server, downloads: Path,
                                        tmp_path: Path) -> None:  # fmt: skip
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    pdf = reportlab_pdf(tmp_path / "report.pdf", [one_column_page()])
    driver.get(f"{server.url}/")
    _enter_key(driver, KEY)  # the API answered 401, so the page asks
    assert driver.execute_script("return sessionStorage.getItem('docfleet.apiKey')") == KEY

    driver.find_element(By.ID, "files").send_keys(str(pdf))
    driver.find_element(By.ID, "upload").click()
    job_id = WebDriverWait(driver, 30, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#jobs > li[data-job-id]").get_attribute(
            "data-job-id"
        )
    )  # the list is drawn anew as jobs change: a row found may go stale
    selector = _row(job_id)

    def finished(d) -> bool:
        row = d.find_element(By.CSS_SELECTOR, selector)
        status = row.find_element(By.CSS_SELECTOR, "[data-job-status]").text
        bar = row.find_element(By.CSS_SELECTOR, "progress[data-job-progress]")
        assert status not in ("failed", "cancelled"), status
        full = float(bar.get_attribute("value")) == float(bar.get_attribute("max"))
        return status == "done" and full

    WebDriverWait(driver, WAIT, poll_frequency=0.25,
                  ignored_exceptions=[StaleElementReferenceException]).until(finished)  # fmt: skip
    job = requests.get(f"{server.url}/v1/jobs/{job_id}", headers={"X-Api-Key": KEY},
                       timeout=10).json()  # fmt: skip
    assert job["status"] == "done" and job["pages"]["done"] == 1

    _click(driver, job_id, '[data-markdown-link][data-file="report.pdf"]')
    WebDriverWait(driver, 30).until(
        lambda d: "Annual Report 2024" in d.find_element(By.ID, "markdown").text
    )
    assert driver.find_element(By.ID, "markdown").is_displayed()
    heading = driver.find_element(By.CSS_SELECTOR, "#markdown h1")  # rendered, not raw
    assert heading.text == "report.pdf" and "#" not in driver.find_element(By.ID, "markdown").text

    download = '[data-download-link][data-file="report.pdf"]'

    def named(d) -> tuple[str, str]:
        link = d.find_element(By.CSS_SELECTOR, f"{selector} {download}")
        return link.get_attribute("download"), link.get_attribute("href")

    name, href = WebDriverWait(driver, 30, ignored_exceptions=[StaleElementReferenceException]
                               ).until(named)  # fmt: skip
    assert name == "report.pdf.md"
    assert href.endswith(f"/v1/jobs/{job_id}/documents/report.pdf.md")
    _click(driver, job_id, download)  # fetched with the key, saved from a blob
    saved = downloads / "report.pdf.md"
    deadline = time.monotonic() + 30
    while not saved.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Annual Report 2024" in saved.read_text(encoding="utf-8")

    shot = tmp_path / "serve-ui.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 0
    assert not driver.find_element(By.ID, "message").is_displayed()
    console = [entry["message"] for entry in driver.get_log("browser")]
    assert not [m for m in console if "Content Security Policy" in m or "Uncaught" in m]


def test_refusals_show_in_the_message_area(browser, server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(f"{server.url}/")
    if driver.execute_script("return sessionStorage.getItem('docfleet.apiKey')") != KEY:
        _enter_key(driver, KEY)
    notes = tmp_path / "notes.txt"
    notes.write_text("just some words, not a document\n")
    driver.find_element(By.ID, "files").send_keys(str(notes))
    driver.find_element(By.ID, "upload").click()
    message = WebDriverWait(driver, 30).until(ec.visibility_of_element_located((By.ID, "message")))
    WebDriverWait(driver, 30).until(lambda d: "415" in message.text)
    assert "notes.txt" in message.text
    driver.save_screenshot(str(tmp_path / "serve-ui-415.png"))


HOSTILE = "<script>alert(1)</script> and <img src=x onerror=alert(2)> in the text"


def _upload(driver, *paths: Path, ocr: str = "") -> str:
    """Upload ``paths`` (the first one's name new to the page) through the form; the id of the
    job whose row shows it."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    Select(driver.find_element(By.ID, "ocr")).select_by_value(ocr)
    driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in paths))
    driver.find_element(By.ID, "upload").click()
    mine = f'#jobs > li[data-job-id]:has(li[data-file="{paths[0].name}"])'
    return WebDriverWait(  # the list is drawn anew as jobs change: a row found may go stale
        driver, 30, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    ).until(lambda d: d.find_element(By.CSS_SELECTOR, mine).get_attribute("data-job-id"))


def _row(job_id: str) -> str:
    """The CSS selector of the job's row in the list."""
    return f'#jobs > li[data-job-id="{job_id}"]'


def _state(driver, job_id: str) -> tuple[str, float, str | None]:
    """The row's shown status, its bar's value and its outcome attribute."""
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.CSS_SELECTOR, _row(job_id))
    status = row.find_element(By.CSS_SELECTOR, "[data-job-status]").text
    bar = row.find_element(By.CSS_SELECTOR, "progress[data-job-progress]")
    return status, float(bar.get_attribute("value")), row.get_attribute("data-outcome")


def _click(driver, job_id: str, inner: str) -> None:
    """Clicks ``inner`` in the job's row, found anew on each try: the list is redrawn every few
    seconds, so a row found a moment ago may have gone stale."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    selector = f"{_row(job_id)} {inner}"
    WebDriverWait(driver, 30, poll_frequency=0.05,
                  ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.CSS_SELECTOR, selector).click() or True
    )  # fmt: skip


def _saved(folder: Path, name: str) -> Path:
    path, deadline = folder / name, time.monotonic() + 30
    while not (path.exists() and path.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.2)
    return path


def test_running_partial_rendered_and_downloaded(
    browser, server, downloads: Path, damaged_pdf: Path, tmp_path: Path
) -> None:
    import zipfile

    from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(f"{server.url}/")
    if driver.execute_script("return sessionStorage.getItem('docfleet.apiKey')") != KEY:
        _enter_key(driver, KEY)
    wait = WebDriverWait(driver, WAIT, poll_frequency=0.05,
                         ignored_exceptions=[StaleElementReferenceException])  # fmt: skip

    # a page that takes seconds to render on any machine (one path of 100,000 segments)
    clean = _upload(driver, slow_render_pdf(tmp_path / "slow.pdf", segments=100_000))
    seen = wait.until(lambda d: (s := _state(d, clean))[0] != "queued" and s)
    assert seen[:2] == ("running", 0.0), seen  # running before its first page is done
    assert wait.until(lambda d: (s := _state(d, clean))[0] in TERMINAL and s) == \
        ("done", 1.0, "done")  # fmt: skip

    hostile = reportlab_pdf(
        tmp_path / "hostile.pdf",
        [[Span("Annual Report 2024", 72, 700, "Helvetica-Bold", 20), Span(HOSTILE, 72, 640)]],
    )
    partial = _upload(driver, hostile, damaged_pdf)
    assert wait.until(lambda d: (s := _state(d, partial))[0] in TERMINAL and s) == \
        ("partial", 3.0, "partial")  # fmt: skip

    def look(job_id: str) -> tuple[str, str]:
        row = driver.find_element(By.CSS_SELECTOR, _row(job_id))
        status = row.find_element(By.CSS_SELECTOR, "[data-job-status]")
        return status.value_of_css_property("color"), row.value_of_css_property("border-left-color")

    shown = {job: wait.until(lambda d, j=job: look(j)) for job in (partial, clean)}
    assert shown[partial][0] != shown[clean][0] and shown[partial][1] != shown[clean][1]

    _click(driver, partial, '[data-markdown-link][data-file="hostile.pdf"]')
    shown = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#markdown h1"))
    assert shown.text == "hostile.pdf"
    markdown = driver.find_element(By.ID, "markdown")
    assert "<script>alert(1)</script>" in markdown.text  # shown as text ...
    assert not markdown.find_elements(By.CSS_SELECTOR, "script, img, iframe, a")  # ... only
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 (no script of the document ran)

    _click(driver, partial, '[data-markdown-link][data-file="page_tree_cycle.pdf"]')
    failed = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#markdown .page-error"))
    assert "page 2 failed" in failed.text and "/inputs/" not in failed.text

    _click(driver, partial, '[data-results="jsonl"]')
    lines = _saved(downloads, f"{partial}.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and all(line.startswith("{") for line in lines)
    _click(driver, partial, '[data-results="zip"]')
    with zipfile.ZipFile(_saved(downloads, f"{partial}.zip")) as zipped:
        assert set(zipped.namelist()) == {"pages.jsonl", "documents/hostile.pdf.md",
                                          "documents/page_tree_cycle.pdf.md"}  # fmt: skip
    driver.save_screenshot(str(tmp_path / "serve-ui-partial.png"))
    console = [entry["message"] for entry in driver.get_log("browser")]
    assert not [m for m in console if "Content Security Policy" in m or "Uncaught" in m]
