"""QR code PNGs rendered in memory from BR Code text."""

import io
from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_M


@lru_cache(maxsize=512)
def render_qr_png(text: str) -> bytes:
    """PNG bytes of a QR code for text; cached because a payment's code never changes."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()
