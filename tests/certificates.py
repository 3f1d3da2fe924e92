"""A throw-away public key infrastructure for mutual TLS tests: made per run, never committed."""

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Pki:
    """Files for a TLS server and the PSP's client certificates, in one folder."""

    server_ca: Path  # what clients trust to reach the server
    server_cert: Path
    server_key: Path
    psp_ca: Path  # what the server trusts for client certificates: the PSP's own CA
    psp_client: Path  # certificate and key the PSP presents
    stranger_client: Path  # a client certificate from another CA


def make_pki(folder: Path) -> Pki:
    """Create the CAs, a localhost server certificate and client certificates under folder."""
    folder.mkdir(parents=True, exist_ok=True)
    server_ca, psp_ca, other_ca = trustme.CA(), trustme.CA(), trustme.CA()
    server = server_ca.issue_cert("localhost", "127.0.0.1")
    paths = Pki(
        *(folder / name for name in ("server-ca.pem", "server.pem", "server.key", "psp-ca.pem", "psp.pem", "x.pem"))
    )
    server_ca.cert_pem.write_to_path(paths.server_ca)
    server.cert_chain_pems[0].write_to_path(paths.server_cert)
    server.private_key_pem.write_to_path(paths.server_key)
    psp_ca.cert_pem.write_to_path(paths.psp_ca)
    psp_ca.issue_cert("psp.example").private_key_and_cert_chain_pem.write_to_path(paths.psp_client)
    other_ca.issue_cert("psp.example").private_key_and_cert_chain_pem.write_to_path(paths.stranger_client)
    return paths
