"""OAuth 2.0 client credentials (RFC 6749 §4.4) on the wire: the token request, its answer and its errors.

This is the one place where errors are not problem+json: OAuth clients (every library that speaks the
client-credentials grant) expect RFC 6749 §5.2's `{"error", "error_description"}`, so the standard wins.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi.responses import JSONResponse

GRANT = "client_credentials"
FORM = "application/x-www-form-urlencoded"
SCOPES = {"national": "read-only access for the upper (national) platform"}
# Answers about credentials must never be cached (§5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# The request body as OpenAPI documents it (the routes read the form themselves, to answer in OAuth's words).
TOKEN_REQUEST_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": [GRANT]},
                        "client_id": {"type": "string", "description": "or in HTTP Basic authentication"},
                        "client_secret": {"type": "string", "format": "password", "description": "or in HTTP Basic"},
                        "scope": {"type": "string", "enum": list(SCOPES)},
                    },
                }
            }
        },
    },
    "responses": {
        "400": {"description": "invalid_request, unsupported_grant_type or invalid_scope (RFC 6749 §5.2)"},
        "401": {"description": "invalid_client: unknown or revoked client, or a wrong secret (RFC 6749 §5.2)"},
    },
}


class OAuthError(Exception):
    """An error answered as RFC 6749 §5.2 says: 401 for `invalid_client`, 400 for the rest."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error, self.description = error, description
        self.status = 401 if error == "invalid_client" else 400

    def response(self) -> JSONResponse:
        headers = dict(NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="dudao"'
        return JSONResponse({"error": self.error, "error_description": self.description}, self.status, headers=headers)


@dataclass(frozen=True)
class TokenRequest:
    client_id: str
    client_secret: str
    scope: str


def _basic(authorization: str | None) -> tuple[str, str] | None:
    """Client id and secret from `Authorization: Basic`, each form-encoded before base64 (§2.3.1)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, colon, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "the Basic credentials are not base64 of client_id:client_secret") from None
    if not colon:
        raise OAuthError("invalid_client", "the Basic credentials are not base64 of client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(secret)


def parse_token_request(content_type: str | None, body: bytes, authorization: str | None) -> TokenRequest:
    """A client-credentials token request from its form and headers, or the OAuthError that answers it."""
    if (content_type or "").split(";")[0].strip().lower() != FORM:
        raise OAuthError("invalid_request", f"the body must be {FORM}")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a form of at most 10 fields") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"{name} is given more than once")
        form[name] = value
    grant = form.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is missing")
    if grant != GRANT:
        raise OAuthError("unsupported_grant_type", f"only grant_type={GRANT} is supported, not {grant!r}")
    scope = form.get("scope", "").strip()
    if unknown := set(scope.split()) - set(SCOPES):
        raise OAuthError("invalid_scope", f"unknown scope {', '.join(sorted(unknown))}; the one scope is 'national'")
    basic = _basic(authorization)
    if basic is not None:
        if "client_secret" in form or form.get("client_id", basic[0]) != basic[0]:
            raise OAuthError("invalid_request", "authenticate one way: HTTP Basic or the form, not both")
        client_id, secret = basic
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if not client_id or not secret:
        raise OAuthError("invalid_client", "client_id and client_secret are needed, in HTTP Basic or in the form")
    return TokenRequest(client_id=client_id, client_secret=secret, scope=" ".join(SCOPES))


def token_response(access_token: str, expires_in: int, scope: str) -> JSONResponse:
    """A successful answer (§5.1)."""
    body = {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in, "scope": scope}
    return JSONResponse(body, headers=NO_STORE)
