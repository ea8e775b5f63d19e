"""Blob stores against real storage: a directory in tmp_path, and a fake S3 server that checks every signature."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from dudao.blobs import LocalBlobStore, S3BlobStore, save, sign_v4
from dudao.errors import NotFound, Unavailable

pytestmark = pytest.mark.integration

ACCESS_KEY, SECRET_KEY, BUCKET = "dudao-test", "s3cr3t/with+odd=chars", "evidence"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the local directory -------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def test_local_put_returns_the_digest_and_get_returns_the_bytes(local: LocalBlobStore):
    key = local.put(PDF)
    assert key == digest(PDF)
    assert local.exists(key)
    assert local.get(key) == PDF
    assert local.path(key) == local.root / key[:2] / key[2:4] / key


def test_local_put_of_the_same_bytes_stores_them_once(local: LocalBlobStore):
    first = local.put(PDF)
    written = local.path(first).stat().st_mtime_ns
    assert local.put(PDF) == first
    assert local.path(first).stat().st_mtime_ns == written
    assert [p for p in local.root.rglob("*") if p.is_file()] == [local.path(first)]


def test_local_put_leaves_no_temporary_files(local: LocalBlobStore):
    for n in range(5):
        local.put(PDF + bytes([n]))
    files = [p for p in local.root.rglob("*") if p.is_file()]
    assert len(files) == 5
    assert all(p.name == digest(p.read_bytes()) for p in files)


def test_local_put_that_fails_midway_leaves_nothing_behind(local: LocalBlobStore, monkeypatch: pytest.MonkeyPatch):
    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("dudao.blobs.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        local.put(PDF)
    assert not local.exists(digest(PDF))
    assert [p for p in local.root.rglob("*") if p.is_file()] == []


def test_local_get_detects_a_file_corrupted_on_disk(local: LocalBlobStore):
    key = local.put(PDF)
    local.path(key).write_bytes(PDF[:-1] + b"!")
    with pytest.raises(Unavailable) as caught:
        local.get(key)
    assert caught.value.rule == "blob_corrupted"


def test_local_put_repairs_a_truncated_copy(local: LocalBlobStore):
    key = local.put(PDF)
    local.path(key).write_bytes(PDF[:10])
    local.put(PDF)
    assert local.get(key) == PDF


def test_local_get_of_a_missing_blob_is_not_found(local: LocalBlobStore):
    assert not local.exists(digest(b"never stored"))
    with pytest.raises(NotFound):
        local.get(digest(b"never stored"))


def test_save_checks_then_stores_and_returns_the_record(local: LocalBlobStore):
    blob = save(local, name="C:\\scans\\自评报告.pdf", media_type="application/pdf", data=PDF, max_bytes=1024 * 1024)
    assert blob.as_record() == {
        "name": "自评报告.pdf",
        "sha256": digest(PDF),
        "size": len(PDF),
        "media_type": "application/pdf",
    }
    assert local.get(blob.sha256) == PDF


# --- a fake S3 that checks signatures ----------------------------------------------------------------

CREDENTIAL = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/([^/]+)/s3/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}"
)


class FakeS3(BaseHTTPRequestHandler):
    """Path-style PUT/GET/HEAD of objects in one bucket; every request's SigV4 signature is recomputed and checked."""

    endpoint: str
    objects: dict[str, bytes]
    methods: list[str]

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _reply(self, status: int, body: bytes = b"", code: str = "") -> None:
        if code:
            body = f"<?xml version='1.0'?><Error><Code>{code}</Code></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorised(self, body: bytes) -> bool:
        authorization = self.headers.get("Authorization", "")
        match = CREDENTIAL.fullmatch(authorization)
        if not match or match.group(1) != ACCESS_KEY:
            return False
        payload_hash = self.headers.get("x-amz-content-sha256", "")
        if payload_hash != digest(body):
            return False
        names = match.group(3).split(";")
        if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(names):  # what real S3 insists on
            return False
        signed = {name: self.headers.get(name, "") for name in names}
        expected = sign_v4(
            method=self.command,
            path=unquote(urlsplit(self.path).path),
            headers=signed,
            payload_hash=payload_hash,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            region=match.group(2),
            service="s3",
        )
        return hmac.compare_digest(expected, authorization)

    def _handle(self) -> None:
        self.methods.append(self.command)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self._authorised(body):
            return self._reply(403, code="SignatureDoesNotMatch")
        bucket, _, key = urlsplit(self.path).path.lstrip("/").partition("/")
        if bucket != BUCKET:
            return self._reply(404, code="NoSuchBucket")
        if self.command == "PUT":
            self.objects[key] = body
            return self._reply(200)
        if key not in self.objects:
            return self._reply(404, code="NoSuchKey")
        return self._reply(200, self.objects[key])

    do_PUT = do_GET = do_HEAD = _handle


@pytest.fixture
def s3() -> Iterator[type[FakeS3]]:
    """A running fake S3; its `objects` and `methods` show what it stored and was asked."""
    handler = type("Handler", (FakeS3,), {"objects": {}, "methods": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def s3_store(s3: type[FakeS3]) -> Iterator[S3BlobStore]:
    store = S3BlobStore(s3.endpoint, BUCKET, ACCESS_KEY, SECRET_KEY, timeout_s=5)
    yield store
    store.close()


def test_s3_put_stores_the_object_under_blobs_and_get_returns_it(s3_store: S3BlobStore, s3: type[FakeS3]):
    key = s3_store.put(PDF)
    assert key == digest(PDF)
    assert s3.objects == {f"blobs/{key}": PDF}
    assert s3_store.exists(key)
    assert s3_store.get(key) == PDF


def test_s3_put_of_the_same_bytes_uploads_them_once(s3_store: S3BlobStore, s3: type[FakeS3]):
    assert s3_store.put(PDF) == s3_store.put(PDF)
    assert s3.methods == ["HEAD", "PUT", "HEAD"]


def test_s3_missing_object_is_not_found(s3_store: S3BlobStore):
    assert not s3_store.exists(digest(b"never stored"))
    with pytest.raises(NotFound):
        s3_store.get(digest(b"never stored"))


def test_s3_get_detects_a_corrupted_object(s3_store: S3BlobStore, s3: type[FakeS3]):
    key = s3_store.put(PDF)
    s3.objects[f"blobs/{key}"] = b"tampered"
    with pytest.raises(Unavailable) as caught:
        s3_store.get(key)
    assert caught.value.rule == "blob_corrupted"


def test_s3_with_a_wrong_secret_is_refused_and_says_what_to_check(s3: type[FakeS3]):
    store = S3BlobStore(s3.endpoint, BUCKET, ACCESS_KEY, "not-the-secret", timeout_s=5)
    try:
        with pytest.raises(Unavailable) as caught:
            store.put(PDF)
        assert "check the access key and secret" in caught.value.detail
        with pytest.raises(Unavailable, match="SignatureDoesNotMatch"):
            store.get(digest(PDF))
    finally:
        store.close()
    assert s3.objects == {}


def test_s3_missing_bucket_says_to_create_it(s3: type[FakeS3]):
    store = S3BlobStore(s3.endpoint, "no-such-bucket", ACCESS_KEY, SECRET_KEY, timeout_s=5)
    try:
        with pytest.raises(Unavailable, match="has no bucket no-such-bucket; create it"):
            store.put(PDF)
    finally:
        store.close()


def test_s3_unreachable_store_is_unavailable():
    store = S3BlobStore("http://127.0.0.1:9", BUCKET, ACCESS_KEY, SECRET_KEY, timeout_s=2)
    try:
        with pytest.raises(Unavailable, match="cannot be reached"):
            store.exists(digest(PDF))
    finally:
        store.close()
