"""`python -m psp_simulator`: serve the simulator on SIM_HOST:SIM_PORT, over (mutual) TLS when configured."""

import logging
import signal
import socket
import ssl
import sys
from typing import Any

from werkzeug.serving import make_server

from psp_simulator.app import create_simulator
from psp_simulator.services import EXTENSION_NAME
from psp_simulator.settings import Settings, SettingsError

log = logging.getLogger("psp_simulator")


class HandshakeInWorkerContext(ssl.SSLContext):
    """A server context whose TLS handshakes run in each request's thread, not in the one accepting connections."""

    def wrap_socket(self, sock: socket.socket, server_side: bool = False, **options: Any) -> ssl.SSLSocket:
        """Wrap as usual, but delay the handshake to the first read, so a silent client cannot stall the server."""
        options["do_handshake_on_connect"] = False
        return super().wrap_socket(sock, server_side=server_side, **options)


def server_tls_context(settings: Settings) -> ssl.SSLContext | None:
    """HTTPS when SIM_TLS_CERT is set; with SIM_TLS_CLIENT_CA, every client must show a certificate it signed."""
    if not settings.tls_cert:
        return None
    context = HandshakeInWorkerContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    if settings.tls_client_ca:
        # Optional at the TLS layer (a certificate that is shown must verify), required by the API's own routes:
        # a browser opens the page without one, as a PSP's portal and its mTLS API are separate doors.
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cafile=settings.tls_client_ca)
    return context


def main() -> int:
    """Serve until interrupted; a wrong setting is reported in one line, with exit status 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The delivery log already says how each webhook call went; httpx's own line per request would repeat it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        app = create_simulator()
        settings: Settings = app.extensions[EXTENSION_NAME].settings
        tls = server_tls_context(settings)
    except (SettingsError, ssl.SSLError, OSError) as error:
        log.error("cannot start the PSP simulator: %s", error)
        return 2
    try:
        server = make_server(settings.host, settings.port, app, threaded=True, ssl_context=tls)
    except OSError as error:
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, error)
        return 2
    # A plain `kill` (SIGTERM) stops the server the way Ctrl+C does, closing its socket.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    mode = "mutual TLS" if settings.tls_client_ca else "TLS" if tls else "plain HTTP"
    log.info("PSP simulator on %s (%s): API Pix at /v2, page at /", settings.public_url, mode)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.info("PSP simulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
