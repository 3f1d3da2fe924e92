"""BR Codes as a PSP issues them, for tests of what the checkout accepts and shows."""

from pix.brcode import crc16_ccitt_false


def field(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def dynamic_code(
    location: str = "pix.example.com/qr/v2/9d36b84f-c70b-478f", txid: str = "***", crc: str = "", amount: str = "10.50"
) -> str:
    """A dynamic BR Code as a PSP issues it (26-25 the location, 62-05 ***), with the CRC it should carry."""
    account = field("00", "br.gov.bcb.pix") + field("25", location)
    payload = (
        field("00", "01")
        + field("01", "12")
        + field("26", account)
        + field("52", "0000")
        + field("53", "986")
        + field("54", amount)
        + field("58", "BR")
        + field("59", "Loja Exemplo")
        + field("60", "SAO PAULO")
        + field("62", field("05", txid))
        + "6304"
    )
    return payload + (crc or crc16_ccitt_false(payload))
