"""Browser tests: Debian's chromium, driven by Playwright for Python, against the six real
processes that `microfinance up` starts (see tests/up_stack.py).

- ``web`` (session): the running system: gateway base URL, first admin's credentials and
  ``web.api`` (tests/browser/api.py) for quick setup through the REST API.
- ``browser`` (session): headless chromium from /usr/bin/chromium with a new empty profile.
  Playwright's own browser downloads are never used.
- ``context`` / ``page``: a fresh context per test (no cookies shared between tests), with
  every request that is not for the gateway aborted, so the client is proven to work offline;
  ``new_context(...)`` for more (a second user, a 360 px phone viewport).
- ``screenshot(page, name)``: with MF_SCREENSHOTS=1, a full-page PNG in docs/screenshots/.

Every test here is marked ``browser``; without /usr/bin/chromium (or Playwright) they skip,
saying why. `.ci/run` installs chromium with apt where it is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.browser.api import Api
from tests.up_stack import ADMIN_EMAIL, ADMIN_PASSWORD, SERVING, UpProcess, up_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}
# Generous enough for a screen that waits on the services; short enough to fail fast.
DEFAULT_TIMEOUT_MS = 30_000


def _why_skip() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does this)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    reason = _why_skip()
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class Web:
    base_url: str
    admin_email: str
    admin_password: str
    api: Api

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc


# Package scope, not session: Playwright's sync API keeps an event loop running in the test
# thread while its browser is open, which pytest-asyncio's tests after this folder cannot share;
# both end when the last browser test has run.
@pytest.fixture(scope="package")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """The six processes via `microfinance up`, on their own ports, database, exchange
    and Redis prefix; stopped and cleaned up after the last browser test."""
    workdir = tmp_path_factory.mktemp("up")
    env = up_env(workdir / "data")
    # Browser tests log in often from one address; the login limit is tested elsewhere.
    env["MF_LOGIN_RATE_LIMIT_PER_MINUTE"] = "10000"
    up = UpProcess.start(workdir, "--stop-timeout", "20", env=env)
    try:
        up.read_until(SERVING, 240)
        api = Api(up.gateway_url, ADMIN_EMAIL, ADMIN_PASSWORD)
        try:
            yield Web(up.gateway_url, ADMIN_EMAIL, ADMIN_PASSWORD, api)
        finally:
            api.close()
        up.interrupt(timeout=60)
    finally:
        up.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import expect, sync_playwright

    # expect() polls for 5 s by default; a shared 2-core CI machine needs longer at times.
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageLog:
    """What a page said that a test may want to assert on: console errors, uncaught
    exceptions, and requests aborted because they left the gateway."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))


def block_external(context: BrowserContext, web: Web, log: PageLog) -> None:
    """Abort every request not for the gateway (no internet in the field, nor in CI)."""

    def handle(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == web.host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            log.blocked.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", handle)


NewContext = Callable[..., "BrowserContext"]


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def new_context(browser: Browser, web: Web, page_log: PageLog) -> Iterator[NewContext]:
    """Make a browser context (own cookies and storage), offline but for the gateway.
    Keyword arguments go to ``browser.new_context`` (e.g. ``viewport=PHONE``)."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(base_url=web.base_url, **options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        block_external(context, web, page_log)
        context.on("page", page_log.watch)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def context(new_context: NewContext) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


Screenshot = Callable[["Page", str], "Path | None"]


@pytest.fixture(scope="session")
def screenshot() -> Screenshot:
    """``screenshot(page, "agent-home")`` saves docs/screenshots/agent-home.png when
    MF_SCREENSHOTS=1 and does nothing otherwise; returns the path written, if any."""
    enabled = os.environ.get("MF_SCREENSHOTS") == "1"

    def take(page: Page, name: str) -> Path | None:
        if not enabled:
            return None
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        # The whole page in one viewport: a full-page capture of a taller page scrolls, and
        # the sticky header would be drawn part-way down the picture.
        # Toasts are transient and would cover the bottom of the page.
        page.evaluate("document.querySelectorAll('.toasts').forEach(t => t.replaceChildren())")
        size = page.viewport_size or {"width": 1280, "height": 800}
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
        try:
            page.screenshot(path=str(path), animations="disabled")
        finally:
            page.set_viewport_size(size)
        return path

    return take
