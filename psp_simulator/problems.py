"""API Pix errors as RFC 7807 problem+json, with the spec's types; nothing else ever reaches a client."""

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://pix.bcb.gov.br/api/v2/error/"
TITLES = {
    "RequisicaoInvalida": "Requisição inválida.",
    "AcessoNegado": "Acesso Negado",
    "NaoEncontrado": "Não Encontrado",
    "ErroInternoDoServidor": "Erro interno do servidor.",
    "ServicoIndisponivel": "Serviço Indisponível",
    "CobNaoEncontrado": "Cobrança não encontrada.",
    "CobOperacaoInvalida": "Cobrança inválida.",
    "CobConsultaInvalida": "Consulta de cobranças inválida.",
    "CobPayloadNaoEncontrado": "Payload não encontrado.",
    "PixNaoEncontrado": "Pix não encontrado.",
    "PixConsultaInvalida": "Consulta de Pix inválida.",
    "PixDevolucaoNaoEncontrada": "Devolução não encontrada.",
    "PixDevolucaoInvalida": "Devolução inválida.",
    "WebhookOperacaoInvalida": "Webhook inválido.",
    "WebhookNaoEncontrado": "Webhook não encontrado.",
    "WebhookConsultaInvalida": "Consulta de webhooks inválida.",
}
KIND_BY_STATUS = {401: "AcessoNegado", 403: "AcessoNegado", 404: "NaoEncontrado", 503: "ServicoIndisponivel"}
DETAIL_BY_STATUS = {
    404: "Recurso não encontrado.",
    405: "Método não permitido para este recurso.",
    413: "O corpo da requisição é grande demais.",
}


@dataclass(frozen=True)
class Violation:
    """One broken rule of a request: which property, and why (the spec's violacoes items)."""

    property: str
    reason: str


class PixApiError(Exception):
    """An error answer a view raises; rendered as application/problem+json with the spec's type for kind."""

    def __init__(self, status: int, kind: str, detail: str, violations: list[Violation] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.violations = violations or []

    def response(self) -> Response:
        """The RFC 7807 answer."""
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.kind,
            "title": TITLES.get(self.kind, self.kind),
            "status": self.status,
            "detail": self.detail,
        }
        if self.violations:
            body["violacoes"] = [{"razao": v.reason, "propriedade": v.property} for v in self.violations]
        response = jsonify(body)
        response.status_code = self.status
        response.mimetype = "application/problem+json"
        return response


class Violations:
    """Collects what is wrong with a request, so one answer names every bad field at once."""

    def __init__(self) -> None:
        self.found: list[Violation] = []

    def add(self, prop: str, reason: str) -> None:
        """Note that prop breaks a rule."""
        self.found.append(Violation(prop, reason))

    def raise_if_any(self, kind: str, detail: str) -> None:
        """PixApiError(400, kind) listing every violation, if there was any."""
        if self.found:
            raise PixApiError(400, kind, detail, self.found)


def register_problem_handlers(app: Flask) -> None:
    """Answer every error, including Flask's own (404, 405, 413) and crashes, as problem+json."""

    @app.errorhandler(PixApiError)
    def problem(error: PixApiError) -> Response:
        return error.response()

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        kind = KIND_BY_STATUS.get(status, "RequisicaoInvalida" if status < 500 else "ErroInternoDoServidor")
        answer = PixApiError(status, kind, DETAIL_BY_STATUS.get(status, error.description or kind)).response()
        headers = dict(error.get_headers())
        if "Allow" in headers:
            answer.headers["Allow"] = headers["Allow"]
        return answer

    @app.errorhandler(Exception)
    def crash(error: Exception) -> Response:
        log.exception("unexpected error")
        return PixApiError(500, "ErroInternoDoServidor", "O simulador falhou ao atender a requisição.").response()
