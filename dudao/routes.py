"""What every service's HTTP routes share: strict bodies, bounded texts, role dependencies, the subtree asked for."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError
from starlette.requests import HTTPConnection

from dudao import jurisdiction, telemetry
from dudao.auth import Principal, Role, require
from dudao.commands import Caller
from dudao.errors import InvalidInput
from dudao.events import Envelope
from dudao.scope import OFFICES, READERS, UNIT_READERS, check_scope
from dudao.sheets import Row, read_bytes

# --- text we accept -------------------------------------------------------------------------------------------
# No C0 control character (nor DEL, nor half a surrogate pair) in any text of any request: they cannot be shown,
# printed, put in a spreadsheet or (NUL) stored in PostgreSQL. Tab and line breaks only in long text, not in names.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_ESCAPED = re.compile(rb"\\(?:u00[01][0-9a-fA-F]|u007[fF]|u[dD][89a-fA-F][0-9a-fA-F]{2}|[bf])")  # how JSON writes them


def _single_line(value: str) -> str:
    if any(c in value for c in "\t\n\r"):
        raise PydanticCustomError("control_character", "a name is one line: no tab or line break")
    return value


Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_single_line)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Admin = Annotated[Principal, Depends(require(Role.admin))]
# Who reads (dudao.scope.READERS; decision 022). Each read narrows its rows to the caller's own.
OfficeReader = Annotated[Principal, Depends(require(*OFFICES))]
UnitReader = Annotated[Principal, Depends(require(*UNIT_READERS, target="rows narrowed to a unit's own"))]
Reader = Annotated[Principal, Depends(require(*READERS, target="rows narrowed to the caller's own"))]


def _unprintable(value: Any, path: str) -> str | None:
    """The path of the first text in `value` (keys included) holding an unprintable character, or None."""
    if isinstance(value, str):
        return path if _UNPRINTABLE.search(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _UNPRINTABLE.search(key):
            return here
        if (found := _unprintable(item, here)) is not None:
            return found
    return None


async def printable_text(request: HTTPConnection) -> None:
    """Every route's guard (an app-wide dependency): refuse a request whose query or JSON body holds an unprintable
    character, naming where, before anything is stored (issue 18: NUL was stored, then lost in the projection)."""
    for name, value in [*request.query_params.multi_items(), *request.path_params.items()]:
        if isinstance(value, str) and _UNPRINTABLE.search(value):
            raise InvalidInput(f"{name} holds a control character", field=name, rule="control_character")
    if not isinstance(request, Request) or request.method in ("GET", "HEAD", "DELETE"):
        return  # a websocket carries subscriptions, which store nothing
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()  # read once by FastAPI already; kept on the request
    if not _ESCAPED.search(body):  # the usual case: no escape that could stand for one, no need to parse again
        return
    try:
        where = _unprintable(json.loads(body), "")
    except ValueError:
        return  # not JSON: the route's own validation says so
    if where is not None:
        raise InvalidInput(
            f"{where or 'the body'} holds a control character (such as NUL); only tab and line breaks may appear in long text",
            field=where or "body",
            rule="control_character",
        )


class Strict(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


MAX_UPLOAD_BYTES = 10 * 1024 * 1024


async def uploaded_rows(request: Request, max_bytes: int = MAX_UPLOAD_BYTES) -> list[Row]:
    """The rows of an office's spreadsheet sent as the request body: .xlsx, or .csv when sent as `text/csv`."""
    data = await request.body()
    if not data:
        raise InvalidInput(
            "请把表格文件作为请求体发送 — send the spreadsheet as the request body", field="file", rule="file_missing"
        )
    if len(data) > max_bytes:
        raise InvalidInput(f"the file is {len(data)} bytes; at most {max_bytes}", field="file", rule="file_too_large")
    csv = request.headers.get("content-type", "").startswith("text/csv")
    return await asyncio.to_thread(read_bytes, data, "upload.csv" if csv else "upload.xlsx")


def today(request: Request) -> date:
    """Today in China by the service's clock (tests set it): no fact recorded is dated after it."""
    return request.app.state.clock.today()


def current_division(request: Request, code: str, field: str = "jurisdiction") -> None:
    """Refuse a new record under a division the national list has retired by today, naming its successor (a record
    made before stays under its code and rolls up under the successor: `dudao.jurisdiction.patterns`)."""
    try:
        jurisdiction.check_current(code, today(request))
    except ValueError as e:
        raise InvalidInput(str(e), field=field, rule="retired_division") from None


def scope(principal: Principal, code: str | None) -> str:
    """The subtree a read covers: the caller's own unless a code inside it is asked for."""
    if code is None:
        return principal.jur
    if not jurisdiction.is_valid_code(code):
        raise InvalidInput(f"{code!r} is not a 6- or 9-digit division code", field="jurisdiction", rule="code_format")
    check_scope(principal, code)
    return code


MAX_PAGE = 200


def page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit", rule="page_size")
    return limit


class Named(JSONResponse):
    """Every REST read that shows a division code shows its name too (issue 21, decision 029): an object holding a
    `jurisdiction` code gets a `jurisdiction_name` beside it, unless the read named it already (a school under a
    township shows the township's registered name)."""

    def render(self, content: Any) -> bytes:
        return super().render(with_names(content))


def with_names(value: Any) -> Any:
    if isinstance(value, list):
        return [with_names(v) for v in value]
    if not isinstance(value, dict):
        return value
    named = {k: with_names(v) for k, v in value.items()}
    code = named.get("jurisdiction")
    if isinstance(code, str) and "jurisdiction_name" not in named and jurisdiction.is_valid_code(code):
        named["jurisdiction_name"] = jurisdiction.name_of(code)
    return named


# --- commands over HTTP -------------------------------------------------------------------------

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')
ID_NAMESPACE = uuid.UUID("6f3c1a52-9d0e-4c7b-8a51-2f8e0d6b9c11")


def request_hash(request: Request, body: BaseModel | None) -> str:
    """What a retry must repeat exactly: method, path and body."""
    text = f"{request.method} {request.url.path}\n{body.model_dump_json() if body is not None else ''}"
    return hashlib.sha256(text.encode()).hexdigest()


def new_aggregate_id(request: Request, principal: Principal, kind: str) -> uuid.UUID:
    """A fresh id, or with `Idempotency-Key` the same id every time, so a retry cannot make a second aggregate. The
    minting instance is part of it: the same caller and key at another instance make another id (decision 027)."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return uuid.uuid4()
    if not _KEY.match(key):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
            field="Idempotency-Key",
            rule="idempotency_key_format",
        )
    return uuid.uuid5(ID_NAMESPACE, f"{request.app.state.settings.jurisdiction}:{kind}:{principal.sub}:{key}")


def command_envelope(request: Request, principal: Principal, body: BaseModel | None = None) -> Envelope:
    """The envelope for a command arriving over HTTP: caller, scope, correlation and the current trace."""
    return Envelope.for_request(
        actor=principal.sub,
        jurisdiction=principal.jur,
        request_id=request.headers.get("x-request-id") or None,
        correlation_id=request.headers.get("x-correlation-id") or None,
        trace=telemetry.current_trace_headers(),
        idempotency_key=request.headers.get("idempotency-key", ""),
        request_hash=request_hash(request, body),
    )


def expected_version(request: Request) -> int | None:
    """`If-Match: "3"` -> 3; absent -> None (unconditional)."""
    value = request.headers.get("if-match")
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value.strip())
    if not match:
        raise InvalidInput('If-Match must be an ETag such as "3"', field="If-Match", rule="etag_format")
    return int(match.group(1))


def caller(request: Request, principal: Principal, body: BaseModel | None = None, *, creates: str = "") -> Caller:
    """The caller of a command arriving over HTTP: its principal, envelope, `If-Match` and, when the command
    `creates` an aggregate of that kind, the id it makes."""
    return Caller(
        principal=principal,
        envelope=command_envelope(request, principal, body),
        expected_version=expected_version(request),
        new_id=new_aggregate_id(request, principal, creates) if creates else None,
    )


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'
