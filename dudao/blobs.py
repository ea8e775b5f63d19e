"""Evidence files: checked on the way in, kept by sha256 in a local directory or an S3-compatible store."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

from dudao.config import Settings
from dudao.errors import InvalidInput, NotFound, Unavailable

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ALLOWED_MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    XLSX: (".xlsx",),
    DOCX: (".docx",),
    "text/csv": (".csv",),
}
# What the first bytes must be; CSV has no signature.
MAGIC_BYTES: dict[str, bytes] = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
    XLSX: b"PK\x03\x04",  # OOXML files are zip archives
    DOCX: b"PK\x03\x04",
}
MAX_NAME_CHARS = 200
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredBlob:
    """An evidence file (佐证材料) as an event records it: never the bytes, only what finds and proves them."""

    name: str
    sha256: str
    size: int
    media_type: str

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


class BlobRefused(InvalidInput):
    """A file we will not store; `rule` is file_empty, file_too_large, file_type_not_allowed or file_name."""

    def __init__(self, detail: str, *, rule: str, **extra: Any):
        super().__init__(detail, field="file", rule=rule, **extra)


def _clean_name(name: str) -> str:
    # Some browsers send the client's full path; only the last part is the file's name.
    cleaned = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if cleaned in ("", ".", ".."):
        raise BlobRefused("the file has no name; give it one such as report.pdf", rule="file_name")
    if len(cleaned) > MAX_NAME_CHARS:
        raise BlobRefused(
            f"the file name has {len(cleaned)} characters; shorten it to at most {MAX_NAME_CHARS}", rule="file_name"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise BlobRefused("the file name contains control characters; rename the file", rule="file_name")
    return cleaned


def _clean_media_type(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def check(name: str, media_type: str, data: bytes, max_bytes: int) -> None:
    """Refuse a file that is empty, too large, of a type we do not keep, or not what it claims to be."""
    name = _clean_name(name)
    media_type = _clean_media_type(media_type)
    if not data:
        raise BlobRefused(f"{name} is empty; choose the file again", rule="file_empty")
    if len(data) > max_bytes:
        raise BlobRefused(
            f"{name} is {_mb(len(data))}; the limit is {_mb(max_bytes)}: compress it or split it",
            rule="file_too_large",
            size=len(data),
            max_bytes=max_bytes,
        )
    allowed = ", ".join(f"{kind} ({' '.join(ext)})" for kind, ext in ALLOWED_MEDIA_TYPES.items())
    if media_type not in ALLOWED_MEDIA_TYPES:
        raise BlobRefused(
            f"files of type {media_type or 'unknown'} are not kept; allowed: {allowed}", rule="file_type_not_allowed"
        )
    extensions = ALLOWED_MEDIA_TYPES[media_type]
    if not name.lower().endswith(extensions):
        raise BlobRefused(
            f"{name} was sent as {media_type}, whose file names end in {' or '.join(extensions)}; rename it or send the right file",
            rule="file_type_not_allowed",
        )
    magic = MAGIC_BYTES.get(media_type)
    if magic is not None and not data.startswith(magic):
        raise BlobRefused(
            f"the content of {name} is not {media_type}; save it again in that format (allowed: {allowed})",
            rule="file_type_not_allowed",
        )


class BlobStore(Protocol):
    """Content-addressed bytes: `put` stores data once under its sha256; `get` raises NotFound when there is none."""

    def put(self, data: bytes) -> str: ...
    def get(self, sha256: str) -> bytes: ...
    def exists(self, sha256: str) -> bool: ...


def _key(sha256: str) -> str:
    # A key becomes part of a path or URL: only a well-formed digest may get that far.
    if not _SHA256.fullmatch(sha256):
        raise InvalidInput(
            f"{sha256!r} is not a sha256 digest (64 lowercase hex digits)", field="sha256", rule="sha256_format"
        )
    return sha256


def _missing(sha256: str) -> NotFound:
    return NotFound(f"evidence file {sha256} is not in the blob store", field="sha256", rule="blob_not_found")


def _verified(sha256: str, data: bytes, where: str) -> bytes:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Unavailable(
            f"evidence file {sha256} at {where} is corrupted; restore it from a backup", rule="blob_corrupted"
        )
    return data


class LocalBlobStore:
    """Blobs as files under `root/ab/cd/<sha256>`, each written whole or not at all."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        key = _key(sha256)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.is_file() and target.stat().st_size == len(data):
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        if os.name == "posix":  # the rename must survive a crash too: an event is about to name this file
            dir_fd = os.open(target.parent, os.O_RDONLY)
            os.fsync(dir_fd)
            os.close(dir_fd)
        return sha256

    def get(self, sha256: str) -> bytes:
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise _missing(sha256) from None
        return _verified(sha256, data, str(path))

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()


def sign_v4(
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    payload_hash: str,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
) -> str:
    """The Authorization header (AWS Signature Version 4) for a request without a query string.

    `headers` are exactly the headers signed; they must include host and x-amz-date.
    """
    signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    amz_date = signed["x-amz-date"]
    names = ";".join(sorted(signed))
    canonical = "\n".join(
        [
            method.upper(),
            quote(path, safe="/~"),
            "",
            *(f"{name}:{signed[name]}" for name in sorted(signed)),
            "",
            names,
            payload_hash,
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={names}, Signature={signature}"


class S3BlobStore:
    """Blobs as objects `blobs/<sha256>` in one bucket of an S3-compatible store (MinIO, OSS, AWS), path-style."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        *,
        timeout_s: float = 30.0,
    ):
        self.endpoint, self.bucket, self.region = endpoint.rstrip("/"), bucket, region
        self._access_key, self._secret_key = access_key, secret_key
        self._client = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.exists(sha256):
            self._request("PUT", sha256, data)
        return sha256

    def get(self, sha256: str) -> bytes:
        response = self._request("GET", sha256)
        if response.status_code == 404:
            raise _missing(sha256)
        return _verified(sha256, response.content, f"{self.endpoint}/{self.bucket}")

    def exists(self, sha256: str) -> bool:
        return self._request("HEAD", sha256).status_code == 200

    def _request(self, method: str, sha256: str, body: bytes = b"") -> httpx.Response:
        url = urlsplit(f"{self.endpoint}/{self.bucket}/blobs/{_key(sha256)}")
        payload_hash = hashlib.sha256(body).hexdigest()
        headers = {
            "host": url.netloc,  # sent as signed: httpx would drop a default port and break the signature
            "x-amz-date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
            "x-amz-content-sha256": payload_hash,
        }
        headers["authorization"] = sign_v4(
            method=method,
            path=url.path,
            headers=headers,
            payload_hash=payload_hash,
            access_key=self._access_key,
            secret_key=self._secret_key,
            region=self.region,
            service="s3",
        )
        try:
            response = self._client.request(method, url.geturl(), headers=headers, content=body or None)
        except httpx.HTTPError as exc:
            raise self._unavailable(
                f"cannot be reached ({exc!r}); check DUDAO_BLOB_URL and that the store is running"
            ) from exc
        status = response.status_code
        if status == 200 or (status == 404 and method == "HEAD"):
            return response
        code = m.group(1) if (m := re.search(r"<Code>([^<]+)</Code>", response.text)) else str(status)
        if status == 404 and method == "GET" and code != "NoSuchBucket":
            return response  # the object is missing: get() says so
        if status == 403:
            raise self._unavailable(
                f"refused the request ({code}); check the access key and secret in DUDAO_BLOB_URL, "
                f"the region ({self.region}) and this machine's clock"
            )
        if code == "NoSuchBucket":
            raise self._unavailable(f"has no bucket {self.bucket}; create it or fix DUDAO_BLOB_URL")
        raise self._unavailable(f"answered {method} blobs/{sha256} with {code}; check its logs")

    def _unavailable(self, what: str) -> Unavailable:
        return Unavailable(f"the blob store at {self.endpoint} {what}", rule="blob_store_unavailable")


def store_from_settings(settings: Settings) -> BlobStore:
    """The blob store DUDAO_BLOB_URL names."""
    url = settings.blob_url.strip()
    if not url:
        return LocalBlobStore(settings.home / "blobs")
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return LocalBlobStore(Path(unquote(parts.path)))
    bucket, host = parts.path.strip("/"), parts.netloc.rpartition("@")[2]
    if parts.scheme == "s3" and host and parts.username and parts.password and bucket and "/" not in bucket:
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        scheme = "http" if query.get("secure", "true").lower() in ("false", "0", "no") else "https"
        return S3BlobStore(
            endpoint=f"{scheme}://{host}",
            bucket=bucket,
            access_key=unquote(parts.username),
            secret_key=unquote(parts.password),
            region=query.get("region", "us-east-1"),
        )
    # Never echo the URL itself: it may carry a secret key.
    raise ValueError(
        f"DUDAO_BLOB_URL (scheme {parts.scheme or 'none'!r}) must be empty (a directory under DUDAO_HOME/blobs), "
        "file:///absolute/path or s3://ACCESS_KEY:SECRET_KEY@host[:port]/bucket[?region=us-east-1&secure=false] "
        "(percent-encode any /, @ or % in the keys)"
    )


def save(store: BlobStore, *, name: str, media_type: str, data: bytes, max_bytes: int) -> StoredBlob:
    """Check an evidence file, store its bytes, and return what an event should record."""
    check(name, media_type, data, max_bytes)
    sha256 = store.put(data)
    return StoredBlob(name=_clean_name(name), sha256=sha256, size=len(data), media_type=_clean_media_type(media_type))


def save_uploads(
    store: BlobStore, files: list[Any], *, max_bytes: int, field: str = "evidence"
) -> list[dict[str, Any]]:
    """Decode and check every upload (objects with name, media_type, content_base64), then store them all and return
    the records an event keeps. A bad file is refused naming `field.i`, and then nothing at all is stored.

    Call it once the caller is known to be allowed: nothing reaches the store before permission and validation."""
    decoded = []
    for i, file in enumerate(files):
        try:
            data = base64.b64decode(file.content_base64, validate=True)
        except (binascii.Error, ValueError):  # ValueError: a non-ASCII character in the text
            raise InvalidInput(
                "content_base64 is not base64", field=f"{field}.{i}.content_base64", rule="base64"
            ) from None
        check(file.name, file.media_type, data, max_bytes)
        decoded.append((file, data))
    return [
        save(store, name=f.name, media_type=f.media_type, data=data, max_bytes=max_bytes).as_record()
        for f, data in decoded
    ]
