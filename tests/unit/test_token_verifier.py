"""Verified tokens are remembered: the signature is checked once per token, never past its expiry or a minute."""

from __future__ import annotations

import time
from dataclasses import replace

import jwt
import pytest

from dudao import auth
from dudao.config import Settings
from dudao.errors import Unauthorized

pytestmark = pytest.mark.unit


def test_a_token_is_checked_once_then_taken_until_it_expires_and_never_longer_than_a_minute(tmp_path, monkeypatch):
    settings = replace(Settings(), home=tmp_path, dev_key_path=tmp_path / "key.pem")
    verifier = auth.TokenVerifier(settings)
    token = auth.issue_dev_token(settings, sub="s", roles=["admin"], jur="500120", ttl_s=120)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    checked = []
    decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: checked.append(1) or decode(*a, **k))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    assert verifier.verify(token).jur == "500120" and verifier.verify(token).roles == {"admin"}
    assert len(checked) == 1  # the gateway's token, brought to each service per query: one verification

    now += auth.TokenVerifier.REMEMBER_S + 1  # a minute on: checked again (a key withdrawn from the JWKS stops it)
    verifier.verify(token)
    assert len(checked) == 2

    now = expires + 1  # past its expiry nothing is taken from memory: the check (jwt's clock) decides
    verifier.verify(token)
    assert len(checked) == 3

    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthorized):  # a different string is never the remembered one
        verifier.verify(forged)
