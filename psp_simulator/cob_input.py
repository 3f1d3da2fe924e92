"""Reading a charge's terms from a PUT/POST/PATCH /cob body, naming each property that breaks the spec's schema."""

import re
from decimal import Decimal
from typing import Any

from psp_simulator.formats import clean_text, parse_money
from psp_simulator.problems import PixApiError, Violations
from psp_simulator.records import ChargeStatus, ChargeTerms

INVALID = "CobOperacaoInvalida"
INVALID_DETAIL = (
    "A requisição que busca alterar ou criar uma cobrança para pagamento imediato "
    "não respeita o _schema_ ou está semanticamente errada."
)
MAX_EXPIRY_SECONDS = 2**31 - 1
CPF = re.compile(r"[0-9]{11}")
CNPJ = re.compile(r"[0-9A-Z]{14}")
REVISABLE = ("calendario", "valor", "chave", "solicitacaoPagador", "devedor", "infoAdicionais")
MISSING: Any = object()


def read_new_charge(body: dict[str, Any]) -> ChargeTerms:
    """The terms of a new charge (CobSolicitada), or PixApiError(400, CobOperacaoInvalida) listing every violation."""
    violations = Violations()
    for name in ("valor", "chave"):
        if name not in body:
            violations.add(f"cob.{name}", f"O campo cob.{name} é obrigatório.")
    changes = _read_changes(body, violations)
    violations.raise_if_any(INVALID, INVALID_DETAIL)
    return ChargeTerms(**changes)


def read_revision(body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(changes to the terms, False), or ({}, True) for a removal, from a PATCH body (CobRevisada); or PixApiError."""
    changes = [name for name in REVISABLE if name in body]
    if "status" in body:
        if body["status"] != ChargeStatus.REMOVIDA_PELO_USUARIO_RECEBEDOR:
            reason = "O campo cob.status não respeita o _schema_."
            raise PixApiError(400, INVALID, INVALID_DETAIL, _only("cob.status", reason))
        if changes:
            reason = "Uma cobrança não pode ser removida e alterada na mesma requisição."
            raise PixApiError(400, INVALID, reason, _only("cob.status", reason))
        return {}, True
    if not changes:
        raise PixApiError(400, INVALID, "A requisição não altera nenhum campo da cobrança.")
    violations = Violations()
    revised = _read_changes(body, violations)
    violations.raise_if_any(INVALID, INVALID_DETAIL)
    return revised, False


def _only(prop: str, reason: str) -> list[Any]:
    violations = Violations()
    violations.add(prop, reason)
    return violations.found


def _read_changes(body: dict[str, Any], violations: Violations) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if (calendar := body.get("calendario", MISSING)) is not MISSING:
        changes["expires_in"] = _expiry(calendar, violations)
    if (value := body.get("valor", MISSING)) is not MISSING:
        changes["amount"] = _amount(value, violations)
    if (key := body.get("chave", MISSING)) is not MISSING:
        changes["key"] = _text(key, 77, "cob.chave", violations)
    if (request := body.get("solicitacaoPagador", MISSING)) not in (MISSING, None):
        changes["payer_request"] = _text(request, 140, "cob.solicitacaoPagador", violations)
    if (debtor := body.get("devedor", MISSING)) not in (MISSING, None):
        changes["debtor"] = _debtor(debtor, violations)
    if (info := body.get("infoAdicionais", MISSING)) not in (MISSING, None):
        changes["extra_info"] = _extra_info(info, violations)
    return changes


def _text(value: object, max_length: int, prop: str, violations: Violations) -> str:
    text = clean_text(value, max_length)
    if text is None:
        violations.add(prop, f"O campo {prop} deve ser um texto de 1 a {max_length} caracteres.")
        return ""
    return text


def _expiry(calendar: object, violations: Violations) -> int:
    expiry = calendar.get("expiracao", 86400) if isinstance(calendar, dict) else None
    # bool is an int to Python, but not to JSON Schema.
    if type(expiry) is not int or not 0 < expiry <= MAX_EXPIRY_SECONDS:
        reason = "O campo cob.calendario.expiracao deve ser um inteiro maior que zero."
        violations.add("cob.calendario.expiracao", reason)
        return 0
    return expiry


def _amount(value: object, violations: Violations) -> Decimal:
    amount = parse_money(value.get("original")) if isinstance(value, dict) else None
    if amount is None:
        violations.add("cob.valor.original", "O campo cob.valor.original não respeita o _schema_.")
        return Decimal(0)
    if amount == 0:
        violations.add("cob.valor.original", "O campo cob.valor.original é zero.")
    return amount


def _debtor(debtor: object, violations: Violations) -> dict[str, str] | None:
    reason = "O objeto cob.devedor não respeita o _schema_: informe nome e cpf ou nome e cnpj."
    if not isinstance(debtor, dict):
        violations.add("cob.devedor", reason)
        return None
    cpf, cnpj, name = debtor.get("cpf"), debtor.get("cnpj"), clean_text(debtor.get("nome"), 200)
    valid_cpf = isinstance(cpf, str) and CPF.fullmatch(cpf)
    valid_cnpj = isinstance(cnpj, str) and CNPJ.fullmatch(cnpj)
    if name is None or (cpf is not None and cnpj is not None) or not (valid_cpf or valid_cnpj):
        violations.add("cob.devedor", reason)
        return None
    return {"cpf": cpf, "nome": name} if valid_cpf else {"cnpj": cnpj, "nome": name}


def _extra_info(info: object, violations: Violations) -> tuple[dict[str, str], ...]:
    items = info if isinstance(info, list) and len(info) <= 50 else None
    pairs = [
        (clean_text(item.get("nome"), 50), clean_text(item.get("valor"), 200))
        for item in items or []
        if isinstance(item, dict)
    ]
    if items is None or len(pairs) != len(items) or any(None in pair for pair in pairs):
        violations.add("cob.infoAdicionais", "O objeto cob.infoAdicionais não respeita o _schema_.")
        return ()
    return tuple({"nome": name, "valor": value} for name, value in pairs)
