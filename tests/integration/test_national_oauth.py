"""Registered API clients and their OAuth 2.0 client-credentials tokens (issue 8): the registry registers and
issues, the gateway's national API forwards the token request and admits the token it gives."""

from __future__ import annotations

from dataclasses import replace

import jwt
import pytest

from dudao.auth import TokenVerifier
from tests.conftest import eventually, stored_events
from tests.integration.test_gateway import gateway  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration

TOKEN_PATH = "/national/v1/oauth/token"
GRANT = {"grant_type": "client_credentials"}


def register(registry, admin_token: str, *, name: str = "国家教育督导信息平台", jur: str = "500120") -> dict:
    with registry.client(admin_token) as office:
        created = office.post("/v1/api-clients", json={"name": name, "jurisdiction": jur})
    assert created.status_code == 201, created.text
    return created.json()


def ask_token(service, form: dict, auth: tuple[str, str] | None = None, path: str = TOKEN_PATH):
    """POST a token request to the gateway (or, with path="/v1/oauth/token", straight to the registry)."""
    with service.client() as client:
        return client.post(path, data=form, auth=auth)


def ask_registry(registry, form: dict):
    return ask_token(registry, form, path="/v1/oauth/token")


def credentials(client: dict) -> dict:
    return GRANT | {"client_id": client["client_id"], "client_secret": client["client_secret"]}


def test_a_registered_client_gets_a_token_and_reads_the_national_api(gateway, registry, token):  # noqa: F811
    client = register(registry, token())
    answer = ask_token(gateway, credentials(client))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (
        body["token_type"] == "Bearer" and body["expires_in"] == 3600 and answer.headers["cache-control"] == "no-store"
    )
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["roles"], claims["jur"]) == (client["client_id"], ["national"], "500120")
    assert claims["exp"] - claims["iat"] == 3600 and claims["iss"]
    with gateway.client(body["access_token"]) as national:
        schools = national.get("/national/v1/schools", params={"jurisdiction": "500120"})
        elsewhere = national.get("/national/v1/schools", params={"jurisdiction": "530113"})
    assert schools.status_code == 200, schools.text
    assert elsewhere.status_code == 403 and elsewhere.json()["rule"] == "out_of_scope"


def test_credentials_in_http_basic_work_as_well(gateway, registry, token):  # noqa: F811
    client = register(registry, token())
    answer = ask_token(gateway, GRANT, auth=(client["client_id"], client["client_secret"]))
    assert answer.status_code == 200, answer.text
    with gateway.client(answer.json()["access_token"]) as national:
        assert national.get("/national/v1/staffing").status_code == 200


def test_a_wrong_secret_is_invalid_client(gateway, registry, token):  # noqa: F811
    client = register(registry, token())
    answer = ask_token(gateway, credentials(client) | {"client_secret": "guessed"})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic") and "access_token" not in answer.text
    unknown = ask_token(gateway, credentials(client) | {"client_id": "3f1f0d4e-0000-4000-8000-000000000000"})
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"


def test_a_grant_other_than_client_credentials_is_unsupported(gateway, registry, token):  # noqa: F811
    client = register(registry, token())
    answer = ask_token(gateway, credentials(client) | {"grant_type": "password"})
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"
    assert set(answer.json()) == {"error", "error_description"}  # OAuth's own shape, not problem+json


def test_a_revoked_client_gets_no_more_tokens_at_once(gateway, registry, token):  # noqa: F811
    client = register(registry, token())
    with registry.client(token()) as office:
        revoked = office.post(f"/v1/api-clients/{client['client_id']}/revoke")
        again = office.post(f"/v1/api-clients/{client['client_id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert again.status_code == 409 and again.json()["rule"] == "api_client_lifecycle"
    answer = ask_token(gateway, credentials(client))  # no waiting: the event store decides, not a read model
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    with registry.client(token()) as office:  # and the listing follows (its projection once dead-lettered revocations)
        listed = eventually(
            lambda: [c for c in office.get("/v1/api-clients").json() if c["version"] == 2],
            what="the revocation in the listing",
        )
    assert listed[0]["status"] == "revoked" and listed[0]["revoked_at"]


def test_a_rotated_secret_replaces_the_old_one(registry, token):
    client = register(registry, token())
    with registry.client(token()) as office:
        rotated = office.post(f"/v1/api-clients/{client['client_id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.headers["ETag"] == '"2"'
    new_secret = rotated.json()["client_secret"]
    assert new_secret and new_secret != client["client_secret"]
    assert ask_registry(registry, credentials(client)).json()["error"] == "invalid_client"
    assert ask_registry(registry, credentials(client) | {"client_secret": new_secret}).status_code == 200
    with registry.client(token()) as office:
        listed = eventually(
            lambda: [c for c in office.get("/v1/api-clients").json() if c["version"] == 2],
            what="the rotation in the listing",
        )
    assert listed[0]["status"] == "active" and listed[0]["secret_rotated_at"]


def test_a_county_admin_registers_clients_only_for_its_own_subtree(registry, token, settings):
    with registry.client(token(jur="500120001")) as township:  # an office below Bishan asking for Bishan
        refused = township.post("/v1/api-clients", json={"name": "越权客户端", "jurisdiction": "500120"})
    with registry.client(token(role="inspector")) as inspector:
        not_admin = inspector.post("/v1/api-clients", json={"name": "督学客户端", "jurisdiction": "500120"})
    assert refused.status_code == 403 and refused.json()["rule"] == "out_of_scope"
    assert refused.json()["field"] == "jurisdiction"
    assert not_admin.status_code == 403 and not_admin.json()["rule"] == "role_required"
    assert stored_events(settings, "ApiClient") == 0


def test_bad_input_names_the_field_and_the_rule(registry, token):
    with registry.client(token()) as office:
        no_name = office.post("/v1/api-clients", json={"jurisdiction": "500120"})
        bad_code = office.post("/v1/api-clients", json={"name": "平台", "jurisdiction": "5001"})
        extra = office.post("/v1/api-clients", json={"name": "平台", "jurisdiction": "500120", "roles": ["admin"]})
    assert no_name.status_code == 422 and no_name.json()["field"] == "name"
    assert bad_code.status_code == 422 and bad_code.json()["field"] == "jurisdiction"
    assert extra.status_code == 422 and extra.json()["field"] == "roles" and extra.json()["rule"] == "extra_forbidden"
    assert no_name.headers["content-type"] == "application/problem+json"


def test_the_listing_never_shows_a_secret_or_its_hash(registry, token):
    client = register(registry, token())
    with registry.client(token()) as office:
        listed = eventually(lambda: office.get("/v1/api-clients").json(), what="the client in the listing")
        raw = office.get("/v1/api-clients").text
    with registry.client(token(jur="530113")) as elsewhere:
        assert elsewhere.get("/v1/api-clients").json() == []
    assert [c["client_id"] for c in listed] == [client["client_id"]]
    assert listed[0]["status"] == "active" and listed[0]["roles"] == ["national"]
    assert client["client_secret"] not in raw and "scrypt" not in raw and "secret" not in listed[0]


def test_a_retried_registration_makes_one_client_and_shows_no_second_secret(registry, token, settings):
    with registry.client(token()) as office:
        body = {"name": "平台", "jurisdiction": "500120"}
        first = office.post("/v1/api-clients", json=body, headers={"Idempotency-Key": "client-1"})
        again = office.post("/v1/api-clients", json=body, headers={"Idempotency-Key": "client-1"})
    assert first.json()["client_id"] == again.json()["client_id"] and stored_events(settings, "ApiClient") == 1
    assert first.json()["client_secret"] and again.json()["client_secret"] is None
    assert ask_registry(registry, credentials(first.json())).status_code == 200


def test_the_gateway_openapi_declares_the_client_credentials_flow(gateway):  # noqa: F811
    with gateway.client() as anonymous:
        document = anonymous.get("/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["nationalClientCredentials"]
    assert scheme["type"] == "oauth2" and scheme["flows"]["clientCredentials"]["tokenUrl"] == TOKEN_PATH
    assert {"nationalClientCredentials": ["national"]} in document["paths"]["/national/v1/schools"]["get"]["security"]
    form = document["paths"][TOKEN_PATH]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert form["schema"]["properties"]["grant_type"]["enum"] == ["client_credentials"]


def test_the_registry_publishes_the_key_its_tokens_verify_with(registry, token, settings):
    client = register(registry, token())
    access = ask_registry(registry, credentials(client)).json()["access_token"]
    with registry.client() as anonymous:
        keys = anonymous.get("/.well-known/jwks.json").json()["keys"]
    assert keys[0]["kid"] == jwt.get_unverified_header(access)["kid"] and "d" not in keys[0]
    verifier = TokenVerifier(replace(settings, jwks_url=f"{registry.url}/.well-known/jwks.json"))
    principal = verifier.verify(access)
    assert principal.roles == {"national"} and principal.jur == "500120"
