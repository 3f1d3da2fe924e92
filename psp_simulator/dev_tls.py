"""`python -m psp_simulator.dev_tls FOLDER`: certificates for trying the API Pix over mutual TLS on one machine.

As a real PSP does, the simulator's CA signs both its own server certificate and the shop's client certificate.
Made locally, kept in FOLDER (instance/dev-tls by `make run-api-pix`), never committed; existing files are kept.
"""

import ipaddress
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = timedelta(days=30)
Key = ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer: tuple[Key, x509.Certificate] | None, key: Key, usage: list) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[1].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if ExtendedKeyUsageOID.SERVER_AUTH in usage:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer[0] if issuer else key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_dev_tls(folder: Path) -> None:
    """ca.pem, server.pem + server.key (localhost, 127.0.0.1) and client.pem (key and certificate) in folder."""
    if (folder / "client.pem").is_file():
        return
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (ca_key, _certificate("PSP simulator development CA", None, ca_key, []))
    server_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = _certificate("localhost", ca, server_key, [ExtendedKeyUsageOID.SERVER_AUTH])
    client = _certificate("pix-checkout development", ca, client_key, [ExtendedKeyUsageOID.CLIENT_AUTH])
    (folder / "ca.pem").write_bytes(_pem(ca[1]))
    (folder / "server.pem").write_bytes(_pem(server))
    (folder / "server.key").write_bytes(_key_pem(server_key))
    (folder / "client.pem").write_bytes(_key_pem(client_key) + _pem(client))


if __name__ == "__main__":
    make_dev_tls(Path(sys.argv[1] if len(sys.argv) > 1 else "instance/dev-tls"))
