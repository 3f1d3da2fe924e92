"""PIX domain code: BR Codes, keys, money, QR rendering and webhook signatures (no Flask)."""
