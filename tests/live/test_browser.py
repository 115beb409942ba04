"""The page in a real headless browser (Debian's chromium + chromedriver, driven by Selenium).

A real ``mycorrhizal demo circuit-breaker --serve --paused`` runs in a subprocess; the test clicks
the page's Step button and watches the highlighted breaker state and the token counts change.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,820",
]
PREFIX = "CircuitBreakerOrchestrator.route_through_circuit_breaker."
WAIT = 10.0  # seconds: a bound for each DOM change, not an expected duration


def serving(*argv: str, port: int = 0) -> Iterator[str]:
    """``mycorrhizal ARGV...`` serving a live view on ``port`` (0: a free one), in a subprocess; its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mycorrhizal", *argv, "--paused", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    url = ""
    for line in process.stdout:
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if line.startswith("live view") and found:
            url = found.group()
            break
    assert url, f"{argv[0]} did not start its view (exit {process.poll()})"
    try:
        yield url
    finally:  # a test that failed stops its server too
        process.send_signal(signal.SIGINT)  # Ctrl-C: it closes its view and exits
        try:
            rest = process.communicate(timeout=WAIT)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    assert process.returncode == 0 and "live view closed" in rest


@pytest.fixture
def demo() -> Iterator[str]:
    """The demo's live view, started paused on a free port; its URL."""
    yield from serving("demo", "circuit-breaker", "--serve")


@pytest.fixture
def mail_room() -> Iterator[str]:
    """``mycorrhizal serve`` of a net whose transition runs a tree per letter, paused; its URL."""
    yield from serving("serve", str(Path(__file__).with_name("mail_room.py")) + ":MailRoom")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile and nothing that reaches for the network, shared by the
    tests of this module (starting one takes seconds): each test opens its own page with ``get``."""
    tmp_path = tmp_path_factory.mktemp("browser")
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "the browser tests need Debian's chromium and chromium-driver: "
        "apt-get install -y chromium chromium-driver"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def until(driver: webdriver.Chrome, condition: Callable[[], Any], what: str) -> Any:
    """Poll the page until ``condition()`` is truthy (at most WAIT seconds); return its value."""
    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(lambda _: condition(), message=what)


def highlighted(driver: webdriver.Chrome) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#svg g.node.current')].map(g => g.dataset.node)"
    )


def count(driver: webdriver.Chrome, place: str) -> int:
    selector = f'#places tr[data-place="CircuitBreakerOrchestrator.{place}"] td.count'
    return int(driver.find_element(By.CSS_SELECTOR, selector).text)


def state(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#machines .state").text


def step(driver: webdriver.Chrome) -> None:
    """Click Step and wait until the page shows the step was taken."""
    before = driver.find_element(By.ID, "steps").text
    driver.find_element(By.ID, "step").click()
    until(driver, lambda: driver.find_element(By.ID, "steps").text != before, "the step to show")


def test_stepping_the_circuit_breaker_in_the_browser(demo: str, browser: webdriver.Chrome) -> None:
    browser.get(demo)
    until(browser, lambda: state(browser) == "CircuitBreakerClosed", "the breaker's first state")
    assert highlighted(browser) == [PREFIX + "CircuitBreakerClosed"]
    assert until(browser, lambda: count(browser, "success") == 1, "req-1 to succeed")
    assert browser.find_element(By.ID, "pause").text == "Resume"  # started paused

    # Each step moves virtual time to the next request: successes grow, then failures trip it.
    seen_success = [count(browser, "success")]
    for _ in range(15):
        step(browser)
        seen_success.append(count(browser, "success"))
        if state(browser) == "CircuitBreakerOpen":
            break
    assert seen_success[-1] == 3 and seen_success == sorted(seen_success) and len(set(seen_success)) == 3
    until(browser, lambda: highlighted(browser) == [PREFIX + "CircuitBreakerOpen"], "OPEN highlighted")
    assert until(browser, lambda: count(browser, "failure") == 3, "three failures")
    assert browser.find_element(By.CSS_SELECTOR, "#svg g.badge:not(.empty) text").text != ""

    # More steps: rejections while OPEN, then its timeout moves it to HALF_OPEN with no request.
    for _ in range(10):
        step(browser)
        if state(browser) == "CircuitBreakerHalfOpen":
            break
    until(
        browser, lambda: highlighted(browser) == [PREFIX + "CircuitBreakerHalfOpen"], "HALF_OPEN highlighted"
    )
    assert count(browser, "rejected") == 2
    # The event list has the firings, and filtering by type hides the others.
    events = browser.find_elements(By.CSS_SELECTOR, "#events li")
    assert len(events) >= 20 and any("FiringCommitted" in e.text for e in events)
    # with the breaker machine's own records, which the net forwards: its timeout, its move to HALF_OPEN
    texts = [e.text for e in events]
    assert any("TimeoutFired" in t and "route_through_circuit_breaker" in t for t in texts)
    assert any("StateEntered" in t and "state=CircuitBreakerHalfOpen" in t for t in texts)
    browser.find_element(By.CSS_SELECTOR, '#filter-types input[value="FiringStarted"]').click()
    shown = [e for e in browser.find_elements(By.CSS_SELECTOR, "#events li") if e.is_displayed()]
    assert shown and not any(e.get_attribute("data-type") == "FiringStarted" for e in shown)


def node_status(driver: webdriver.Chrome, node: str) -> list[str]:
    """The status classes the picture's node ``node`` has (``st-success``...)."""
    return driver.execute_script(
        "const g = document.querySelector(`#svg g.node[data-node='${arguments[0]}']`);"
        "return g ? [...g.classList].filter(c => c.startsWith('st-')) : null",
        node,
    )


def test_the_tree_of_a_nets_transition_in_the_browser(mail_room: str, browser: webdriver.Chrome) -> None:
    browser.get(mail_room)
    sort = "MailRoom.sort."
    until(browser, lambda: node_status(browser, sort + "send") == [], "the tree's nodes, no status yet")
    step(browser)  # the first letter arrives; its tree sorts it
    until(browser, lambda: node_status(browser, sort + "send") == ["st-success"], "send to succeed")
    assert node_status(browser, sort + "sort") == ["st-success"]
    until(browser, lambda: count_in(browser, "MailRoom.sorted") == 1, "one letter sorted")
    step(browser)
    step(browser)  # "to whom?": not addressed, so the sequence fails before send
    until(browser, lambda: node_status(browser, sort + "addressed") == ["st-failure"], "addressed to fail")
    assert node_status(browser, sort + "sort") == ["st-failure"]
    assert node_status(browser, sort + "send") == ["st-success"]  # its last status, from the letter before
    until(browser, lambda: count_in(browser, "MailRoom.odd") == 1, "the odd letter rejected")
    # the tree's records are in the event list, each with the letter it decided about
    texts = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#events li")]
    assert any("NodeStatusChanged" in t and "token=to whom?" in t for t in texts)


def count_in(driver: webdriver.Chrome, place: str) -> int:
    found = driver.find_elements(By.CSS_SELECTOR, f'#places tr[data-place="{place}"] td.count')
    return int(found[0].text) if found else -1


@pytest.fixture
def growing() -> Iterator[str]:
    """``mycorrhizal serve`` of a runner whose net adds a place to itself after one virtual second."""
    yield from serving("serve", str(Path(__file__).with_name("mail_room.py")) + ":GROWING")


def test_the_page_redraws_a_net_changed_while_running(growing: str, browser: webdriver.Chrome) -> None:
    browser.get(growing)
    until(browser, lambda: count_in(browser, "Growing.early") == 0, "the net's first picture and state")
    assert not browser.find_elements(By.CSS_SELECTOR, '#svg g.node[data-node="Growing.late"]')
    step(browser)  # one virtual second: the net adds 'late', holding one token
    late = '#svg g.node[data-node="Growing.late"]'
    until(browser, lambda: browser.find_elements(By.CSS_SELECTOR, late), "the new place in the picture")
    until(browser, lambda: count_in(browser, "Growing.late") == 1, "its token counted")
    marked = f"{late}.marked g.badge:not(.empty) text"
    until(browser, lambda: browser.find_element(By.CSS_SELECTOR, marked).text == "1", "its badge")


def events(driver: webdriver.Chrome) -> list[int]:
    """The sequence numbers of the events the page lists."""
    return [int(li.get_attribute("data-seq")) for li in driver.find_elements(By.CSS_SELECTOR, "#events li")]


def test_a_page_open_across_a_restart_of_its_server_lists_only_the_new_servers_events(
    browser: webdriver.Chrome,
) -> None:
    mail_room = str(Path(__file__).with_name("mail_room.py")) + ":MailRoom"
    with contextmanager(serving)("serve", mail_room) as url:
        browser.get(url)
        until(browser, lambda: browser.find_element(By.ID, "connection").text == "live", "the stream")
        step(browser)  # the first letter: its firing and its tree's records
        until(browser, lambda: events(browser), "the first letter's events")
    # The same view started again on the same port: nothing has happened there yet.
    port = urlsplit(url).port
    assert port is not None
    with contextmanager(serving)("serve", mail_room, port=port) as again:
        assert again == url
        until(browser, lambda: browser.find_element(By.ID, "steps").text == "", "the new server (no step)")
        until(browser, lambda: not events(browser), "the old server's events to go")
        step(browser)
        until(browser, lambda: events(browser), "the new server's first events")
        assert events(browser)[0] == 1 and events(browser) == sorted(events(browser))


@pytest.fixture
def crossing() -> Iterator[str]:
    """``mycorrhizal serve`` of a statechart with two parallel regions, paused; its URL."""
    yield from serving("serve", str(Path(__file__).with_name("crossing.py")) + ":Crossing")


def test_a_statechart_highlights_the_active_state_of_each_region(
    crossing: str, browser: webdriver.Chrome
) -> None:
    browser.get(crossing)
    active = ["Cars", "Crossing", "Stopped", "Walk", "Walkers"]
    until(browser, lambda: sorted(highlighted(browser)) == active, "both regions' states highlighted")
    assert state(browser) == "Stopped, Walk"
    step(browser)  # the cars' timeout: that region is done, the walkers still walk
    until(browser, lambda: state(browser) == "CarsReady, Walk", "the cars ready")
    assert sorted(highlighted(browser)) == ["Cars", "CarsReady", "Crossing", "Walk", "Walkers"]


@pytest.fixture
def flood() -> Iterator[str]:
    """``mycorrhizal serve`` of a net that gets 1500 letters at once after one virtual second."""
    yield from serving("serve", str(Path(__file__).with_name("mail_room.py")) + ":Flood")


def test_a_page_says_how_many_of_the_events_seen_it_does_not_list(
    flood: str, browser: webdriver.Chrome
) -> None:
    browser.get(flood)
    until(browser, lambda: count_in(browser, "Flood.sorted") == 0, "the net's first state")
    step(browser)  # 1200 letters: 2400 firing events, in a few looks
    until(browser, lambda: count_in(browser, "Flood.sorted") == 1200, "every letter sorted")
    listed = browser.execute_script("return document.querySelectorAll('#events li').length")
    assert 0 < listed <= 1000  # the page keeps the newest 1000 at most
    text = browser.find_element(By.ID, "event-count").text
    seen = int(text.split()[0])
    assert seen >= 2400 and text == f"{seen} seen, {listed} listed"


def notice(driver: webdriver.Chrome) -> str:
    """The page's notice ("" when none is shown)."""
    return driver.execute_script(
        "const n = document.getElementById('notice'); return n.hidden ? '' : n.textContent"
    )


def test_a_pages_notice_says_a_control_failed_and_goes_when_one_succeeds(browser: webdriver.Chrome) -> None:
    mail_room = str(Path(__file__).with_name("mail_room.py")) + ":MailRoom"
    with contextmanager(serving)("serve", mail_room) as url:
        browser.get(url)
        until(browser, lambda: browser.find_element(By.ID, "connection").text == "live", "the stream")
        step(browser)
        assert browser.find_element(By.ID, "steps").text == "1 step"
        step(browser)
        assert browser.find_element(By.ID, "steps").text == "2 steps"
        assert notice(browser) == ""
        # a speed the view refuses: its answer (400) is the notice
        browser.execute_script(
            "const s = document.getElementById('speed'); s.value = '0'; s.dispatchEvent(new Event('change'))"
        )
        until(browser, lambda: "speed" in notice(browser), "the refused speed's notice")
        step(browser)  # a control that succeeds: the notice is over
        until(browser, lambda: notice(browser) == "", "the notice to go")
        assert browser.find_element(By.ID, "steps").text == "3 steps"
    # the view stopped: a step that gets no answer says so on the page, not only in its console
    until(browser, lambda: browser.find_element(By.ID, "connection").text != "live", "the stream to drop")
    browser.find_element(By.ID, "step").click()
    until(browser, lambda: '"step" was not done' in notice(browser), "the unanswered step's notice")
