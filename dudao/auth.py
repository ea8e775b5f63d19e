"""Bearer JWTs: the deployment's signing key and its JWKS, verification, roles, and jurisdiction scope."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Request

from dudao import jurisdiction
from dudao.callers import Principal, Role
from dudao.config import Settings
from dudao.errors import Forbidden, Unauthorized

ALGORITHMS = ["ES256", "RS256"]
DEV_ISSUER = "dudao-dev"


# --- keys -----------------------------------------------------------------------------------------
# One signing key per deployment: DUDAO_SIGNING_KEY, or else the dev runner's key (created on first use). It signs
# `dudao token`'s tokens and those the registry issues to API clients; its public half is published as a JWKS.


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{path} must hold a P-256 (ES256) private key in PEM")
    return key


def ensure_dev_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Load the dev runner's ES256 signing key, creating it on first use."""
    if path.exists():
        return _load_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    tmp.replace(path)
    return key


def signing_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    """The deployment's signing key. A configured one must exist: replicas that each made their own would disagree."""
    if settings.signing_key_path is not None:
        return _load_key(settings.signing_key_path)
    return ensure_dev_key(settings.dev_key_path)


def instance_key(settings: Settings) -> Path:
    """The path of the key the instance's services check tokens with, for a command that issues tokens from outside
    them: it must exist, since a key made here would sign tokens nobody accepts."""
    path = settings.signing_key_path or settings.dev_key_path
    if not path.is_file():
        raise FileNotFoundError(
            f"no signing key at {path.resolve()}: this is not the home of a running instance. Start one there first"
            " (make run, or dudao up), or point DUDAO_HOME (or DUDAO_DEV_KEY, DUDAO_SIGNING_KEY) at the instance's; nothing issued"
        )
    return path


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public key as a JWK, its `kid` the RFC 7638 thumbprint, so a rotated key never reuses a name."""
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True)
    members = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).decode().rstrip("=")
    return {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


def jwks(settings: Settings) -> dict[str, list[dict[str, str]]]:
    """What `GET /.well-known/jwks.json` publishes: the public half of the signing key."""
    return {"keys": [public_jwk(signing_key(settings).public_key())]}


def issue_token(
    settings: Settings, *, sub: str, roles: list[str], jur: str, unit: str | None = None, ttl_s: int, issuer: str
) -> str:
    """A token signed by the deployment's key; `kid` names the key in the published JWKS."""
    key = signing_key(settings)
    now = int(time.time())
    claims = {"sub": sub, "roles": roles, "jur": jur, "iss": issuer, "iat": now, "exp": now + ttl_s}
    if unit:
        claims["unit"] = unit
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": public_jwk(key.public_key())["kid"]})


def issue_dev_token(
    settings: Settings, *, sub: str, roles: list[str], jur: str, unit: str | None = None, ttl_s: int = 12 * 3600
) -> str:
    """A token signed by the dev key, as `dudao token` prints it."""
    return issue_token(settings, sub=sub, roles=roles, jur=jur, unit=unit, ttl_s=ttl_s, issuer=DEV_ISSUER)


class TokenVerifier:
    """Checks signatures with the JWKS at `jwks_url`, or with the deployment's own signing key when none is set.

    A token verified here is taken again without checking its signature (an ES256 verification was a twentieth of a
    subgraph's CPU per call, and every gateway query brings the same token to each service) until it expires, and for
    at most `REMEMBER_S`, so that a key withdrawn from the JWKS stops its tokens within that time, as the key cache
    of the JWKS client would."""

    REMEMBER_S = 60.0
    REMEMBERED = 1024  # tokens; past that the memory starts again

    def __init__(self, settings: Settings):
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        self._key_path = settings.signing_key_path or settings.dev_key_path
        self._own_key: ec.EllipticCurvePublicKey | None = None
        self._verified: dict[str, tuple[Principal, float]] = {}  # token -> (its principal, taken until: time.time())

    def _own_public_key(self) -> ec.EllipticCurvePublicKey:
        if self._own_key is None:
            if not self._key_path.exists():
                raise Unauthorized("no signing key is configured (set DUDAO_JWKS_URL or run `dudao token` once)")
            self._own_key = _load_key(self._key_path).public_key()
        return self._own_key

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None and time.time() < remembered[1]:
            return remembered[0]
        principal, expires = self._check(token)
        if len(self._verified) >= self.REMEMBERED:
            self._verified.clear()
        self._verified[token] = principal, min(expires, time.time() + self.REMEMBER_S)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        """The token's principal and expiry, its signature and claims checked."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._own_public_key()
            claims = jwt.decode(token, key, algorithms=ALGORITHMS, options={"require": ["sub", "exp"]})
        except Unauthorized:
            raise
        except jwt.ExpiredSignatureError as e:
            raise Unauthorized(
                "the token has expired; get a new one", field="Authorization", rule="token_expired"
            ) from e
        except (jwt.PyJWTError, ValueError) as e:
            raise Unauthorized(f"the token is not valid: {e}", field="Authorization", rule="token_invalid") from e
        roles, jur = claims.get("roles"), claims.get("jur")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthorized(
                "the token's 'roles' claim must be a list of strings", field="roles", rule="token_invalid"
            )
        if not isinstance(jur, str) or not jurisdiction.is_valid_code(jur):
            raise Unauthorized("the token's 'jur' claim must be a jurisdiction code", field="jur", rule="token_invalid")
        unit = claims.get("unit")
        principal = Principal(sub=str(claims["sub"]), roles=frozenset(roles), jur=jur, unit=str(unit) if unit else None)
        return principal, float(claims["exp"])


# --- FastAPI dependencies ----------------------------------------------------------------------


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


SUBTREE, LINE, INSTANCE_OFFICE, SHARED = (
    "subtree",
    "subtree and the levels above",
    "the instance's own office",
    "shared",
)
# Upper plans come down (LINE, decision 011); frameworks are the instance's to publish (INSTANCE_OFFICE) and a
# reference every caller reads (SHARED).
REACHES = (SUBTREE, LINE, INSTANCE_OFFICE, SHARED)


@dataclass(frozen=True)
class Rule:
    """What a route declares: the roles that may call it (none: any valid token) and what its target is, in words.

    How each role is then scoped against the target is `dudao.scope`'s; the generated matrix walks these."""

    roles: tuple[str, ...]
    target: str | None  # None: what the path says (a record by its id, else the place asked for or named in the body)
    public: bool = False
    reach: str = SUBTREE  # which places an office reaches from its own: see REACHES


def require(*roles: str, target: str | None = None, reach: str = SUBTREE):
    """A dependency that admits callers holding any of `roles` (any valid token when none are named)."""
    assert reach in REACHES, reach
    rule = Rule(tuple(str(r) for r in roles), target, reach=reach)

    async def dependency(request: Request) -> Principal:
        # On the event loop, as the gateway and the subgraphs verify: a remembered token costs a dictionary lookup,
        # where a plain `def` sent every request through a worker thread and back.
        token = bearer_token(request)
        if token is None:
            raise Unauthorized(
                "this route needs a bearer token (dudao token --role admin --jur CODE)", field="Authorization"
            )
        verifier: TokenVerifier = request.app.state.verifier
        principal = replace(
            verifier.verify(token),
            instance=getattr(getattr(request.app.state, "settings", None), "jurisdiction", None),
            writing=request.method not in ("GET", "HEAD", "OPTIONS"),
        )
        request.state.caller = principal  # for the access log (dudao.telemetry.AccessLog)
        if not principal.has_any(rule.roles):
            names = ", ".join(f"{r} ({Role(r).label_zh})" for r in rule.roles)
            raise Forbidden(
                f"this route is for the roles {names}", field="roles", rule="role_required", roles=list(rule.roles)
            )
        return principal

    dependency.rule = rule  # type: ignore[attr-defined]
    return dependency


def public(target: str):
    """A dependency for a route anyone may call without a token (published reports, outcomes, public contacts)."""

    async def dependency() -> None:
        return None

    dependency.rule = Rule((), target, public=True)  # type: ignore[attr-defined]
    return dependency
