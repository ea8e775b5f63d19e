"""API clients: secret hashing, the client's lifecycle, and the OAuth token request's wire format. Pure code."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from dudao import oauth
from dudao.errors import InvalidInput
from services.registry.domain import ApiClient, ClientStatus, RuleViolation
from services.registry.domain.api_client import TRANSITIONS, hash_secret, secret_matches

pytestmark = pytest.mark.unit

NOW = datetime(2026, 9, 1, tzinfo=UTC)
SALT = b"0123456789abcdef"


def a_client(secret: str = "s3cret", **overrides) -> ApiClient:
    args = {"client_id": uuid4(), "name": "国家教育督导信息平台", "jurisdiction": "500120", "now": NOW} | overrides
    return ApiClient.register(secret_hash=hash_secret(secret, SALT), **args)


# --- secrets ------------------------------------------------------------------------------------------


def test_a_secret_matches_its_own_hash_and_no_other():
    stored = hash_secret("correct horse", SALT)
    assert secret_matches("correct horse", stored)
    assert not secret_matches("correct horse ", stored)
    assert not secret_matches("", stored)


def test_the_hash_keeps_neither_the_secret_nor_an_unsalted_digest():
    stored = hash_secret("correct horse", SALT)
    assert "correct horse" not in stored and stored.startswith("scrypt$16384$8$1$")
    assert stored != hash_secret("correct horse", b"fedcba9876543210"), "another salt, another hash"


def test_a_short_salt_is_refused():
    with pytest.raises(ValueError):
        hash_secret("x", b"short")


@pytest.mark.parametrize(
    "stored", ["", "plain", "md5$x$y$z$a$b", "scrypt$x$8$1$c2FsdA$aGFzaA", "scrypt$16384$8$1$!!$!!"]
)
def test_a_malformed_hash_matches_nothing(stored):
    assert not secret_matches("anything", stored)


# --- the client's lifecycle ---------------------------------------------------------------------------


def test_a_registered_client_reads_with_the_national_role_only():
    client = a_client()
    assert client.roles == ["national"] and client.status is ClientStatus.active
    assert client.accepts("s3cret") and not client.accepts("wrong")
    assert [type(e).__name__ for e in client.collect_events()] == ["Registered"]


def test_an_empty_name_is_refused():
    with pytest.raises(InvalidInput) as caught:
        a_client(name="  ")
    assert caught.value.field == "name"


def test_a_rotated_secret_replaces_the_old_one_at_once():
    client = a_client("old")
    client.rotate_secret(secret_hash=hash_secret("new", SALT), now=NOW)
    assert client.accepts("new") and not client.accepts("old")


def test_a_revoked_client_is_refused_even_with_its_secret():
    client = a_client("s3cret")
    client.revoke(now=NOW)
    assert client.status is ClientStatus.revoked and not client.accepts("s3cret")


COMMANDS = {
    "rotate_secret": lambda c: c.rotate_secret(secret_hash=hash_secret("next", SALT), now=NOW),
    "revoke": lambda c: c.revoke(now=NOW),
}
CASES = [(command, state) for command in COMMANDS for state in ClientStatus]


def client_in(state: ClientStatus) -> ApiClient:
    client = a_client()
    if state is ClientStatus.revoked:
        client.revoke(now=NOW)
    return client


@pytest.mark.parametrize(("command", "state"), CASES, ids=[f"{c}-from-{s}" for c, s in CASES])
def test_every_command_from_every_state(command, state):
    client = client_in(state)
    if state in TRANSITIONS[command]:
        COMMANDS[command](client)
    else:
        version = client.version
        with pytest.raises(RuleViolation) as caught:
            COMMANDS[command](client)
        assert caught.value.rule == "api_client_lifecycle" and caught.value.status == 409
        assert client.version == version, "a refused command must record nothing"


# --- the token request (RFC 6749 §4.4, errors §5.2) -----------------------------------------------------------


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def ask(body: str, authorization: str | None = None, content_type: str = oauth.FORM) -> oauth.TokenRequest:
    return oauth.parse_token_request(content_type, body.encode(), authorization)


def refused(body: str, authorization: str | None = None, content_type: str = oauth.FORM) -> tuple[int, str]:
    with pytest.raises(oauth.OAuthError) as caught:
        ask(body, authorization, content_type)
    return caught.value.status, caught.value.error


def test_credentials_come_from_the_form():
    asked = ask("grant_type=client_credentials&client_id=c1&client_secret=a%2Bb")
    assert (asked.client_id, asked.client_secret, asked.scope) == ("c1", "a+b", "national")


def test_credentials_come_from_http_basic_form_encoded_first():
    asked = ask("grant_type=client_credentials&scope=national", basic("c1", "a%3Ab"))
    assert (asked.client_id, asked.client_secret) == ("c1", "a:b")


def test_a_grant_other_than_client_credentials_is_unsupported():
    assert refused("grant_type=password&username=u&password=p") == (400, "unsupported_grant_type")


@pytest.mark.parametrize(
    ("body", "authorization", "content_type"),
    [
        ("client_id=c1&client_secret=s", None, oauth.FORM),  # no grant_type
        ("grant_type=client_credentials&grant_type=client_credentials&client_id=c&client_secret=s", None, oauth.FORM),
        ('{"grant_type": "client_credentials"}', None, "application/json"),
        ("grant_type=client_credentials&client_secret=s", basic("c1", "s"), oauth.FORM),  # two ways at once
    ],
    ids=["no-grant", "repeated-field", "json-body", "basic-and-form"],
)
def test_a_malformed_request_is_invalid_request(body, authorization, content_type):
    assert refused(body, authorization, content_type) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("body", "authorization"),
    [
        ("grant_type=client_credentials", None),
        ("grant_type=client_credentials&client_id=c1", None),
        ("grant_type=client_credentials", "Basic not-base64!"),
        ("grant_type=client_credentials", "Basic " + "bm9jb2xvbg=="),
    ],
    ids=["nothing", "no-secret", "bad-base64", "no-colon"],
)
def test_missing_or_garbled_credentials_are_invalid_client(body, authorization):
    assert refused(body, authorization) == (401, "invalid_client")


def test_an_unknown_scope_is_invalid_scope():
    assert refused("grant_type=client_credentials&client_id=c&client_secret=s&scope=admin") == (400, "invalid_scope")


def test_errors_are_answered_in_oauths_shape_and_never_cached():
    response = oauth.OAuthError("invalid_client", "wrong secret").response()
    assert response.status_code == 401 and response.headers["cache-control"] == "no-store"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.body == b'{"error":"invalid_client","error_description":"wrong secret"}'
