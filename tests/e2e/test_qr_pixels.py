"""The QR code on the buyer's page, as a screen shows it: every module the same whole number of device pixels."""

import io
from collections.abc import Iterator
from itertools import groupby

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.live_server import LiveServer

FINDER = 7  # a finder pattern's first row: 7 dark modules
SCREENS = {
    "desktop": ({"width": 1280, "height": 900}, 1),
    "desktop-hidpi": ({"width": 1280, "height": 900}, 2),
    "desktop-150-percent": ({"width": 1280, "height": 900}, 1.5),
    "phone": ({"width": 390, "height": 844}, 3),
    "small-phone": ({"width": 320, "height": 640}, 2),
}


@pytest.fixture(params=SCREENS, ids=str)
def context(request: pytest.FixtureRequest, browser: Browser) -> Iterator[BrowserContext]:
    """The suite's browser context, on each of SCREENS (its page is screenshotted as every other)."""
    viewport, ratio = SCREENS[request.param]
    context = browser.new_context(viewport=viewport, device_scale_factor=ratio, locale="pt-BR")
    yield context
    context.close()


def runs(pixels: list[bool]) -> list[int]:
    """The lengths of the dark and light stretches of a line of pixels, in order."""
    return [len(list(stretch)) for _, stretch in groupby(pixels)]


def screenshot_of(page: Page, element: Locator) -> Image.Image:
    """The device pixels of element as the screen shows them, with a few of the page around it."""
    ratio, box, margin = page.evaluate("window.devicePixelRatio"), element.bounding_box(), 4
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    left, top = round(box["x"] * ratio) - margin, round(box["y"] * ratio) - margin
    right, bottom = left + round(box["width"] * ratio) + 2 * margin, top + round(box["height"] * ratio) + 2 * margin
    return Image.open(io.BytesIO(page.screenshot())).convert("L").crop((left, top, right, bottom))


def module_stretches(code: Image.Image) -> tuple[float, set[int]]:
    """The size of a module in pixels (from the top left finder pattern), and every stretch along every row and
    column of the code."""
    dark = [[code.getpixel((x, y)) < 128 for x in range(code.width)] for y in range(code.height)]
    rows = [y for y, row in enumerate(dark) if any(row)]
    first, last = rows[0], rows[-1]
    start = min(dark[y].index(True) for y in rows)
    end = max(code.width - dark[y][::-1].index(True) for y in rows)
    assert end - start == last - first + 1, "the code is not square"
    lines = [row[start:end] for row in dark[first : last + 1]]
    lines += [[row[x] for row in dark[first : last + 1]] for x in range(start, end)]
    return runs(lines[0])[0] / FINDER, {length for line in lines for length in runs(line)}


def test_every_module_is_the_same_whole_number_of_device_pixels(live_server: LiveServer, page: Page) -> None:
    payment = live_server.create_payment("1234.56")
    page.goto(payment["page_url"])
    qr = page.get_by_role("img", name="QR Code PIX")
    expect(qr).to_be_visible()
    code = screenshot_of(page, qr)
    assert [found.text for found in zxingcpp.read_barcodes(code)] == [payment["pix_copy_paste"]]
    module, stretches = module_stretches(code)
    assert module == int(module) and module >= 2, f"a module is {module} device pixels"
    uneven = sorted(length for length in stretches if length % module)
    assert not uneven, f"stretches of {uneven} device pixels among modules of {module:.0f}"
