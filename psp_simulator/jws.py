"""The location's signature: CobPayloads as compact JWS (RS256) with a key made at start, and its JWK set."""

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWS
from jwt.algorithms import RSAAlgorithm

KEY_BITS = 2048


def _key_id(public_jwk: dict[str, Any]) -> str:
    # RFC 7638 thumbprint: the same key always gets the same kid, and nothing else does.
    members = {name: public_jwk[name] for name in ("e", "kty", "n")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class LocationSigner:
    """Signs what a payer's app reads at a location, so it can tell the charge came from this PSP."""

    def __init__(self, jwks_url: str) -> None:
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        self._public_jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self._private_key.public_key(), as_dict=True)
        self.key_id = _key_id(self._public_jwk)
        self._jwks_url = jwks_url

    def sign(self, payload: dict[str, Any]) -> str:
        """The compact JWS of payload, with the header the spec's example shows (alg, typ, kid, jku)."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"typ": "JWS", "kid": self.key_id, "jku": self._jwks_url}
        return PyJWS().encode(body, self._private_key, algorithm="RS256", headers=headers)

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK set, for whoever verifies a location's signature."""
        return {"keys": [self._public_jwk | {"kid": self.key_id, "use": "sig", "alg": "RS256"}]}
