"""GET /payments/pix/qr_code/<name> and <name>.svg: images a real decoder reads as the BR Code, served from memory."""

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import zxingcpp
from flask.testing import FlaskClient
from PIL import Image


def test_qr_code_decodes_to_the_copy_paste_code(client: FlaskClient, make_payment: Callable) -> None:
    payment = make_payment("1234.56")
    response = client.get(payment["qr_code_url"])
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert [code.text for code in decoded] == [payment["pix_copy_paste"]]
    assert "54071234.56" in payment["pix_copy_paste"]


def drawn(svg: bytes) -> Image.Image:
    """The picture the SVG's one path of unit-high rectangles draws, 4 pixels a module, for a decoder."""
    side = int(re.search(rb'viewBox="0 0 (\d+) \1"', svg).group(1))
    picture = Image.new("L", (side * 4, side * 4), 255)
    for x, y, width in re.findall(rb"M(\d+) (\d+)h(\d+)v1h-\3z", svg):
        left, top = int(x) * 4, int(y) * 4
        picture.paste(0, (left, top, left + int(width) * 4, top + 4))
    return picture


def test_the_svg_is_the_same_code_in_whole_modules(client: FlaskClient, make_payment: Callable) -> None:
    payment = make_payment("1234.56")
    response = client.get(payment["qr_code_url"] + ".svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert b'shape-rendering="crispEdges"' in response.data
    decoded = zxingcpp.read_barcodes(drawn(response.data))
    assert [code.text for code in decoded] == [payment["pix_copy_paste"]]


def test_the_page_shows_the_svg_at_a_whole_number_of_pixels_per_module(
    client: FlaskClient, make_payment: Callable
) -> None:
    payment = make_payment()
    html = client.get(payment["page_url"]).get_data(as_text=True)
    image = re.search(r'<img class="qr" width="(\d+)" height="\1" data-modules="(\d+)"\s+src="([^"]+)"', html)
    assert image is not None
    size, modules, source = int(image[1]), int(image[2]), image[3]
    assert source == f"/payments/pix/qr_code/{payment['qr_code']}.svg"
    assert f'viewBox="0 0 {modules} {modules}"'.encode() in client.get(source).data
    assert size % modules == 0 and 296 - modules < size <= 296  # the largest that fits the card


@pytest.mark.parametrize("suffix", ["", ".svg"])
def test_qr_code_is_cached_by_the_browser(client: FlaskClient, make_payment: Callable, suffix: str) -> None:
    response = client.get(make_payment()["qr_code_url"] + suffix)
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert "immutable" in response.headers["Cache-Control"]
    again = client.get(response.request.path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_qr_codes_are_not_written_to_disk(client: FlaskClient, make_payment: Callable) -> None:
    root = Path(__file__).resolve().parents[1]
    before = {p for p in root.rglob("*.png") if ".venv" not in p.parts}
    client.get(make_payment()["qr_code_url"])
    assert {p for p in root.rglob("*.png") if ".venv" not in p.parts} == before


@pytest.mark.parametrize(
    "name",
    [
        "qr_code_payment_nope",
        "unknown",
        "qr_code_payment_",
        "..%2F..%2Fapp.py",
        "qr_code_payment_..%2F..%2Fapp.py",
        "%2E%2E",
    ],
)
def test_unknown_qr_code_is_404(client: FlaskClient, name: str) -> None:
    for path in (f"/payments/pix/qr_code/{name}", f"/payments/pix/qr_code/{name}.svg"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["status"] == 404


def test_path_traversal_never_serves_a_file(client: FlaskClient) -> None:
    response = client.get("/payments/pix/qr_code/../../app.py")
    assert response.status_code == 404
    assert b"create_app" not in response.data
