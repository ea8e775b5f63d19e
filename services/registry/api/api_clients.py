"""API clients (接口客户端): offices register the upper platform's systems; those get tokens at the OAuth endpoint.

`POST /v1/oauth/token` is the client-credentials grant (RFC 6749 §4.4); `GET /.well-known/jwks.json` publishes
the key its tokens are signed with, so that a deployment can point DUDAO_JWKS_URL at it.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from dudao import auth, oauth
from dudao import jurisdiction as divisions
from dudao.auth import public
from dudao.routes import caller, set_etag
from dudao.scope import check_scope
from services.registry.api.common import Admin, JurisdictionCode, Name, Strict, now, registry, scope
from services.registry.commands import RegisterApiClient, RevokeApiClient, RotateApiClientSecret
from services.registry.domain.api_client import SALT_BYTES, ApiClient, ClientStatus, hash_secret
from services.registry.projections import api_clients

router = APIRouter()
TAGS = ["api clients"]


class ApiClientCreate(Strict):
    name: Name
    jurisdiction: JurisdictionCode = Field(description="the subtree the client may read; inside your own")


class ApiClientRead(BaseModel):
    client_id: UUID
    name: str
    jurisdiction: str
    jurisdiction_name: str
    roles: list[str]
    status: ClientStatus
    status_label_zh: str
    registered_at: datetime
    secret_rotated_at: datetime | None = None
    revoked_at: datetime | None = None
    version: int


class ApiClientCredentials(ApiClientRead):
    """The client with its secret, shown this once: only a hash is kept. A retried request shows none."""

    client_secret: str | None
    token_url: str = "/v1/oauth/token"


def _read(client: ApiClient) -> dict:
    return dict(
        client_id=client.id,
        name=client.name,
        jurisdiction=client.jurisdiction,
        jurisdiction_name=divisions.name_of(client.jurisdiction),
        roles=client.roles,
        status=client.status,
        status_label_zh=client.status.label_zh,
        registered_at=client.registered_at,
        version=client.version,
    )


def _new_secret() -> tuple[str, str]:
    secret = secrets.token_urlsafe(32)
    return secret, hash_secret(secret, secrets.token_bytes(SALT_BYTES))


def _credentials(client: ApiClient, secret: str, secret_hash: str, response: Response) -> ApiClientCredentials:
    set_etag(response, client.version)
    response.headers.update(oauth.NO_STORE)
    # An Idempotency-Key retry gets the client as first saved, whose secret is not this one: show none.
    shown = secret if client.secret_hash == secret_hash else None
    return ApiClientCredentials(**_read(client), client_secret=shown)


@router.post("/v1/api-clients", status_code=201, response_model=ApiClientCredentials, tags=TAGS)
def register_api_client(body: ApiClientCreate, request: Request, response: Response, principal: Admin):
    """Register a client that may read `jurisdiction`'s subtree with the `national` role; its secret is shown once."""
    check_scope(principal, body.jurisdiction)
    secret, secret_hash = _new_secret()
    command = RegisterApiClient(
        name=body.name, jurisdiction=body.jurisdiction, secret_hash=secret_hash, now=now(request)
    )
    client = registry(request).register_api_client(command, caller(request, principal, body, creates="api-client"))
    return _credentials(client, secret, secret_hash, response)


@router.get("/v1/api-clients", response_model=list[ApiClientRead], tags=TAGS)
async def list_api_clients(
    request: Request, principal: Admin, jurisdiction: str | None = None, status: ClientStatus | None = None
) -> list[ApiClientRead]:
    """The clients registered in the subtree; never a secret nor its hash."""
    within = scope(principal, jurisdiction)
    async with request.app.state.pool.acquire() as conn:
        rows = await api_clients.client_list(conn, within=within, status=status.value if status else None)
    return [
        ApiClientRead(
            **row,
            jurisdiction_name=divisions.name_of(row["jurisdiction"]),
            status_label_zh=ClientStatus(row["status"]).label_zh,
        )
        for row in rows
    ]


@router.post("/v1/api-clients/{client_id}/rotate-secret", response_model=ApiClientCredentials, tags=TAGS)
def rotate_api_client_secret(client_id: UUID, request: Request, response: Response, principal: Admin):
    """A new secret, shown once; the old one stops working at once (tokens already issued run out)."""
    secret, secret_hash = _new_secret()
    command = RotateApiClientSecret(client_id=client_id, secret_hash=secret_hash, now=now(request))
    client = registry(request).rotate_api_client_secret(command, caller(request, principal))
    return _credentials(client, secret, secret_hash, response)


@router.post("/v1/api-clients/{client_id}/revoke", response_model=ApiClientRead, tags=TAGS)
def revoke_api_client(client_id: UUID, request: Request, response: Response, principal: Admin) -> ApiClientRead:
    """No more tokens for this client, for good (tokens already issued run out within their lifetime)."""
    client = registry(request).revoke_api_client(
        RevokeApiClient(client_id=client_id, now=now(request)), caller(request, principal)
    )
    set_etag(response, client.version)
    return ApiClientRead(**_read(client))


# --- the token endpoint and the key its tokens are signed with ---------------------------------------------


@router.post(
    "/v1/oauth/token",
    tags=["oauth"],
    openapi_extra=oauth.TOKEN_REQUEST_OPENAPI,
    dependencies=[Depends(public("a registered client's credentials (OAuth 2.0)"))],
    responses={200: {"description": "access_token, token_type Bearer, expires_in (RFC 6749 §5.1)"}},
)
async def issue_client_token(request: Request) -> Response:
    """OAuth 2.0 client credentials (RFC 6749 §4.4): a short-lived `national` token for a registered client.

    Errors here are OAuth's (`{"error", "error_description"}`, §5.2), not problem+json: that is what clients expect.
    """
    try:
        asked = oauth.parse_token_request(
            request.headers.get("content-type"), await request.body(), request.headers.get("authorization")
        )
    except oauth.OAuthError as e:
        return e.response()
    # The event store, not the read model, decides: a revocation counts from the moment it is saved.
    client = await asyncio.to_thread(registry(request).authenticate_api_client, asked.client_id, asked.client_secret)
    if client is None:
        return oauth.OAuthError("invalid_client", "unknown or revoked client, or a wrong secret").response()
    settings = request.app.state.settings
    token = auth.issue_token(
        settings,
        sub=str(client.id),
        roles=client.roles,
        jur=client.jurisdiction,
        ttl_s=settings.client_token_ttl_s,
        issuer=settings.service_url("registry"),
    )
    return oauth.token_response(token, settings.client_token_ttl_s, asked.scope)


@router.get(
    "/.well-known/jwks.json", tags=["oauth"], dependencies=[Depends(public("the deployment's public signing key"))]
)
def published_keys(request: Request) -> dict:
    """The public key every token of this deployment is signed with (RFC 7517), for DUDAO_JWKS_URL. Public."""
    return auth.jwks(request.app.state.settings)
