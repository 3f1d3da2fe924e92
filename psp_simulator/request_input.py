"""Reading what a client sent: a JSON object body, and the inicio/fim/paginacao parameters of listings."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from flask import request

from psp_simulator.formats import parse_timestamp
from psp_simulator.problems import PixApiError, Violations

Item = TypeVar("Item")
MAX_ITEMS_PER_PAGE = 1000


def json_or_none() -> Any:
    """The request's body parsed as JSON, or None when it is not JSON (deep nesting included, which is no 500)."""
    try:
        return json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError):
        return None


def json_object(kind: str) -> dict[str, Any]:
    """The request's body as a JSON object, or PixApiError(400, kind)."""
    body = json_or_none()
    if not isinstance(body, dict):
        raise PixApiError(400, kind, "O corpo da requisição deve ser um objeto JSON.")
    return body


@dataclass(frozen=True)
class Window:
    """A listing's parameters: a time window and the page asked for."""

    start: datetime | None
    end: datetime | None
    page: int
    per_page: int

    def contains(self, moment: datetime) -> bool:
        """Whether moment falls between inicio and fim, both included."""
        return (self.start is None or self.start <= moment) and (self.end is None or moment <= self.end)

    def parameters(self, total: int) -> dict[str, Any]:
        """The listing's "parametros": what was asked and how many pages there are."""
        pages = max(1, -(-total // self.per_page))
        window = {"inicio": request.args.get("inicio"), "fim": request.args.get("fim")}
        paging = {
            "paginaAtual": self.page,
            "itensPorPagina": self.per_page,
            "quantidadeDePaginas": pages,
            "quantidadeTotalDeItens": total,
        }
        return {name: value for name, value in window.items() if value is not None} | {"paginacao": paging}

    def page_of(self, items: Sequence[Item]) -> list[Item]:
        """The items on the page asked for."""
        first = self.page * self.per_page
        return list(items[first : first + self.per_page])


def read_window(kind: str, required: bool = True) -> tuple[Window, Violations]:
    """inicio, fim and paginacao.* from the query string; the caller adds its own checks, then raises."""
    violations = Violations()
    start, end = (_moment(name, required, violations) for name in ("inicio", "fim"))
    if start and end and end < start:
        violations.add("fim", "O parâmetro fim é anterior ao parâmetro inicio.")
    page = _integer("paginacao.paginaAtual", 0, 0, 10**9, violations)
    per_page = _integer("paginacao.itensPorPagina", 100, 1, MAX_ITEMS_PER_PAGE, violations)
    return Window(start, end, page, per_page), violations


def flag(name: str, violations: Violations) -> bool | None:
    """A true/false query parameter, None when absent."""
    value = request.args.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        violations.add(name, f"O parâmetro {name} deve ser true ou false.")
        return None
    return value == "true"


def _moment(name: str, required: bool, violations: Violations) -> datetime | None:
    text = request.args.get(name)
    if text is None:
        if required:
            violations.add(name, f"O parâmetro {name} é obrigatório.")
        return None
    moment = parse_timestamp(text)
    if moment is None:
        violations.add(name, f"O parâmetro {name} deve ser uma data-hora RFC 3339 com fuso.")
    return moment


def _integer(name: str, default: int, low: int, high: int, violations: Violations) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) < 12 and low <= int(text) <= high):
        violations.add(name, f"O parâmetro {name} deve ser um inteiro entre {low} e {high}.")
        return default
    return int(text)
