"""API clients (接口客户端): systems of the upper platform that read this instance with a client secret.

The secret itself is never kept: events carry a salted scrypt hash with its parameters. Secrets are 256
random bits, so the hash, which travels in events like any other state, gives nothing away.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dudao.callers import Role
from dudao.rules import Labelled, check_transition, require_name

# scrypt's interactive parameters (about 16 MiB and a few tens of ms a check); stored with each hash, so they can grow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
ROLES = [Role.national.value]  # read-only, and the only role a client credential can ever carry


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, salt: bytes) -> str:
    """`scrypt$n$r$p$salt$hash`: what is kept of a client secret. The caller brings a fresh random salt."""
    if len(salt) < SALT_BYTES:
        raise ValueError(f"a salt needs at least {SALT_BYTES} bytes")
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def secret_matches(secret: str, stored: str) -> bool:
    """Whether `secret` is the one `stored` was made from (in constant time); a malformed hash matches nothing."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class ClientStatus(Labelled):
    active = "active", "有效"
    revoked = "revoked", "已吊销"


S = ClientStatus
# Which states each command may start from. A walk of this table is in the tests.
TRANSITIONS: dict[str, frozenset[str]] = {"rotate_secret": frozenset({S.active}), "revoke": frozenset({S.active})}


class ApiClient(Aggregate):
    """A registered API client (接口客户端): may read `jurisdiction`'s subtree with the roles it was given."""

    @event("Registered")
    def __init__(self, *, name: str, jurisdiction: str, roles: list[str], secret_hash: str, registered_at: datetime):
        self.name = name
        self.jurisdiction = jurisdiction
        self.roles = list(roles)
        self.secret_hash = secret_hash
        self.registered_at = registered_at
        self.status = ClientStatus.active

    @classmethod
    def register(cls, *, client_id: UUID, name: str, jurisdiction: str, secret_hash: str, now: datetime) -> ApiClient:
        return cls._create(
            cls.Registered,
            id=client_id,
            name=require_name(name),
            jurisdiction=jurisdiction,
            roles=ROLES,
            secret_hash=secret_hash,
            registered_at=now,
        )

    def rotate_secret(self, *, secret_hash: str, now: datetime) -> None:
        """A new secret replaces the old one at once; tokens already issued run until they expire."""
        check_transition("api_client", TRANSITIONS, "rotate_secret", self.status)
        self._secret_rotated(secret_hash=secret_hash, rotated_at=now)

    @event("SecretRotated")
    def _secret_rotated(self, secret_hash: str, rotated_at: datetime) -> None:
        self.secret_hash = secret_hash

    def revoke(self, *, now: datetime) -> None:
        """No more tokens for this client, for good; register a new one to start again."""
        check_transition("api_client", TRANSITIONS, "revoke", self.status)
        self._revoked(revoked_at=now)

    @event("Revoked")
    def _revoked(self, revoked_at: datetime) -> None:
        self.status = ClientStatus.revoked

    def accepts(self, secret: str) -> bool:
        """Whether a token may be issued to whoever presents `secret`."""
        return self.status is ClientStatus.active and secret_matches(secret, self.secret_hash)
