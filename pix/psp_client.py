"""A client for a PSP's API Pix (Efí, Banco do Brasil, Itaú, Sicoob... or the simulator): OAuth2 client credentials,
mutual TLS, charges, received Pix, refunds and the webhook registration. No Flask here."""

import logging
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from pix.api_pix import (
    REFUND_STATUSES,
    InvalidPixItemError,
    ReceivedPix,
    money,
    money_text,
    read_received_pix,
    timestamp,
)

log = logging.getLogger(__name__)
RETRY_PAUSES = (0.2, 0.6)  # between the attempts of a call
TOKEN_MARGIN_SECONDS = 30  # renew a token this long before the PSP says it expires
MAX_EXPIRY_SECONDS = 2**31 - 1  # calendario.expiracao is an int32
PAID = "CONCLUIDA"  # a cob's status once paid
# Our own credentials refused: a fault of the set-up, not the PSP's verdict on what was asked.
NOT_A_VERDICT = (401, 403)


class PspError(Exception):
    """The PSP refused a call, failed, or could not be reached; unavailable means trying later may work. status:
    the HTTP status of the PSP's answer to the call itself (None when none came, or came from its token endpoint)."""

    def __init__(self, message: str, status: int | None = None, unavailable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.unavailable = unavailable

    @property
    def refused(self) -> bool:
        """Whether the PSP turned the call itself down (a 4xx), so that it surely did nothing of what was asked."""
        return self.status is not None and 400 <= self.status < 500 and self.status not in (429, *NOT_A_VERDICT)


@dataclass(frozen=True)
class PspSettings:
    """Where the PSP is and how to prove who we are to it."""

    api_url: str
    token_url: str
    client_id: str
    client_secret: str
    certificate: str | None = None  # PEM with our client certificate and key, for mutual TLS
    ca_bundle: str | None = None  # PEM of the CAs that sign the PSP's server certificate; None: the system's
    timeout: float = 10.0


@dataclass(frozen=True)
class Charge:
    """An immediate charge (cob) at the PSP: its state and the dynamic BR Code to show."""

    txid: str
    status: str
    pix_copy_paste: str
    received: list[ReceivedPix]
    deadline: datetime | None = None  # calendario.criacao + expiracao, where the PSP gives them readably

    def closed_unpaid(self, now: datetime) -> bool:
        """Whether no Pix can come for it any more, as of now: not concluded, and past the PSP's own deadline
        (a charge whose PUT the PSP took late runs out later than ours)."""
        return self.status != PAID and (self.deadline is None or self.deadline <= now)


@dataclass(frozen=True)
class Refund:
    """A devolução at the PSP."""

    refund_id: str
    status: str
    value: Decimal
    reason: str | None


def tls_context(settings: PspSettings) -> ssl.SSLContext:
    """Verify the PSP's server against ca_bundle (or the system's CAs) and show it our certificate, if any."""
    context = ssl.create_default_context(cafile=settings.ca_bundle)
    if settings.certificate:
        context.load_cert_chain(settings.certificate)
    return context


class ApiPixClient:
    """One PSP's API Pix; safe to share between green threads, with the OAuth2 token cached until it expires."""

    def __init__(self, settings: PspSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._http = httpx.Client(
            verify=tls_context(settings),
            timeout=httpx.Timeout(settings.timeout, connect=min(5.0, settings.timeout)),
            follow_redirects=False,
            transport=transport,
        )
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()

    def create_charge(self, txid: str, amount: Decimal, expires_in: int, key: str, note: str | None) -> Charge:
        """PUT /cob/{txid}: a retry after a lost answer finds the charge already there and takes it."""
        body: dict[str, Any] = {"calendario": {"expiracao": expires_in}, "valor": {"original": money_text(amount)}}
        body |= {"chave": key} | ({"solicitacaoPagador": note} if note else {})
        try:
            return self._charge(self._call("PUT", f"/v2/cob/{txid}", json=body))
        except PspError as refusal:
            if refusal.status != 400:
                raise
            # The txid is ours: when it is taken, it is by an earlier attempt whose answer was lost. Any other
            # refusal stays the PSP's own reason, not what a look-up of a charge never made would say.
            try:
                existing = self._call("GET", f"/v2/cob/{txid}")
            except PspError:
                raise refusal from None
            if _field(existing, "valor", "original") != money_text(amount):
                raise
            return self._charge(existing)

    def charge(self, txid: str) -> Charge:
        """GET /cob/{txid}: the charge's status and the Pix received for it."""
        return self._charge(self._call("GET", f"/v2/cob/{txid}"))

    def received_pix(self, start: datetime, end: datetime) -> Iterator[ReceivedPix | InvalidPixItemError]:
        """GET /pix: every Pix received in [start, end], page by page; unreadable items come as errors."""
        page = 0
        while True:
            params = {"inicio": _rfc3339(start), "fim": _rfc3339(end), "paginacao.paginaAtual": page}
            answer = self._call("GET", "/v2/pix", params=params)
            for item in _received_items(answer):
                try:
                    yield read_received_pix(item)
                except InvalidPixItemError as error:
                    yield InvalidPixItemError(str(error), item)
            pages = _field(answer, "parametros", "paginacao", "quantidadeDePaginas") or 1
            page += 1
            if not isinstance(pages, int) or page >= pages:
                return

    def refund(self, end_to_end_id: str, refund_id: str, amount: Decimal, description: str | None) -> Refund:
        """PUT /pix/{e2eid}/devolucao/{id}: idempotent by our refund id. A refusal is the PSP's verdict only once
        a look-up confirms that it holds no devolução with that id: a PSP may refuse the id an earlier attempt,
        whose answer was lost, already took."""
        body = {"valor": money_text(amount)} | ({"descricao": description} if description else {})
        try:
            return _refund(self._call("PUT", f"/v2/pix/{end_to_end_id}/devolucao/{refund_id}", json=body), refund_id)
        except PspError as refusal:
            if not refusal.refused:
                raise
            try:
                return self.refund_state(end_to_end_id, refund_id)
            except PspError as lookup:
                if lookup.refused:  # not found: nothing was made, and the PSP's reason is the refusal's
                    raise refusal from None
                raise

    def refund_state(self, end_to_end_id: str, refund_id: str) -> Refund:
        """GET /pix/{e2eid}/devolucao/{id}."""
        return _refund(self._call("GET", f"/v2/pix/{end_to_end_id}/devolucao/{refund_id}"), refund_id)

    def register_webhook(self, key: str, url: str) -> None:
        """PUT /webhook/{chave}: the PSP POSTs received Pix for key to url + /pix."""
        self._call("PUT", f"/v2/webhook/{key}", json={"webhookUrl": url})

    def _charge(self, answer: dict[str, Any]) -> Charge:
        try:
            received = [read_received_pix(item) for item in _received_items(answer)]
        except InvalidPixItemError as error:
            raise PspError(f"the PSP described a received Pix badly: {error}") from None
        txid, status, code = answer.get("txid"), answer.get("status"), answer.get("pixCopiaECola", "")
        if not isinstance(txid, str) or not isinstance(status, str) or not isinstance(code, str):
            raise PspError("the PSP's charge has no txid, status or pixCopiaECola")
        return Charge(txid=txid, status=status, pix_copy_paste=code, received=received, deadline=_deadline(answer))

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        # Every API Pix call here is idempotent (the txid and refund id are ours), so each may be retried.
        for pause in RETRY_PAUSES:
            try:
                return self._attempt(method, path, options)
            except PspError as failure:
                if not failure.unavailable:
                    raise
                log.info("PSP %s %s failed (%s); trying again", method, path, failure)
            time.sleep(pause)
        return self._attempt(method, path, options)

    def _attempt(self, method: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
        url = self.settings.api_url + path
        try:
            response = self._http.request(method, url, headers=self._auth(), **options)
            if response.status_code == 401:
                self._token = None  # revoked or expired early: one new token, then the verdict stands
                response = self._http.request(method, url, headers=self._auth(), **options)
        except httpx.HTTPError as error:  # no answer, or one that could not be read (a broken gzip body)
            raise PspError(f"the PSP did not answer: {type(error).__name__}", unavailable=True) from None
        return _json(response)

    def _auth(self) -> dict[str, str]:
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token[1]:
                self._token = self._new_token()
            return {"Authorization": f"Bearer {self._token[0]}"}

    def _new_token(self) -> tuple[str, float]:
        settings = self.settings
        try:
            response = self._http.post(
                settings.token_url,
                data={"grant_type": "client_credentials"},
                auth=(settings.client_id, settings.client_secret),
            )
        except httpx.HTTPError as error:
            raise PspError(
                f"the PSP's token endpoint did not answer: {type(error).__name__}", unavailable=True
            ) from None
        try:
            answer = _json(response)
        except PspError as error:  # a refusal of our credentials, not of the call they were for
            raise PspError(f"the PSP's token endpoint: {error}", unavailable=error.unavailable) from None
        token, lifetime = answer.get("access_token"), answer.get("expires_in", 3600)
        if not isinstance(token, str) or not isinstance(lifetime, int):
            raise PspError("the PSP's token answer has no access_token")
        return token, time.monotonic() + max(0, lifetime - TOKEN_MARGIN_SECONDS)


def _field(answer: object, *path: str) -> object:
    """answer[path[0]][path[1]]..., or None where a step is missing or not an object."""
    for name in path:
        if not isinstance(answer, dict):
            return None
        answer = answer.get(name)
    return answer


def _deadline(answer: dict[str, Any]) -> datetime | None:
    """When the charge stops taking Pix by the PSP's clock, or None where its calendario says so unreadably."""
    seconds = _field(answer, "calendario", "expiracao")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_EXPIRY_SECONDS:
        return None
    try:
        return timestamp(_field(answer, "calendario", "criacao"), "calendario.criacao") + timedelta(seconds=seconds)
    except InvalidPixItemError:
        return None


def _received_items(answer: dict[str, Any]) -> list[Any]:
    """The "pix" list of an answer (none when absent); a PspError when it is not a list."""
    items = answer.get("pix") or []
    if not isinstance(items, list):
        raise PspError('the PSP answered a "pix" that is not a list')
    return items


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        unavailable = response.status_code >= 500 or response.status_code == 429
        raise PspError(_problem(response), status=response.status_code, unavailable=unavailable)
    try:
        answer = response.json()
    except ValueError:
        raise PspError("the PSP answered something that is not JSON", status=response.status_code) from None
    if not isinstance(answer, dict):
        raise PspError("the PSP answered JSON that is not an object", status=response.status_code)
    return answer


def _problem(response: httpx.Response) -> str:
    """The PSP's RFC 7807 problem, in one line."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    detail = problem.get("detail") or problem.get("title") if isinstance(problem, dict) else None
    return f"the PSP answered {response.status_code}" + (f": {str(detail)[:200]}" if detail else "")


def _refund(answer: dict[str, Any], asked: str) -> Refund:
    try:
        value = money(answer.get("valor"), "valor")
    except InvalidPixItemError as error:
        raise PspError(f"the PSP described the refund badly: {error}") from None
    refund_id, status = answer.get("id"), answer.get("status")
    if refund_id != asked or status not in REFUND_STATUSES:
        # A state outside the API Pix's three would be stored and then never settle.
        raise PspError("the PSP's refund is not the one asked for, or has a status the API Pix does not have")
    reason = answer.get("motivo")
    return Refund(refund_id=refund_id, status=status, value=value, reason=reason if isinstance(reason, str) else None)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
