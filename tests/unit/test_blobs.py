"""Evidence files without I/O: what is refused and why, what an event records, the SigV4 signer, DUDAO_BLOB_URL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dudao.blobs import (
    ALLOWED_MEDIA_TYPES,
    DOCX,
    XLSX,
    BlobRefused,
    LocalBlobStore,
    S3BlobStore,
    StoredBlob,
    check,
    sign_v4,
    store_from_settings,
)
from dudao.config import Settings
from dudao.errors import InvalidInput

pytestmark = pytest.mark.unit

MB = 1024 * 1024
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
GOOD_FILES = {  # media type -> (name, first bytes)
    "application/pdf": ("自评报告.pdf", b"%PDF-1.7\n..."),
    "image/jpeg": ("photo.JPG", b"\xff\xd8\xff\xe0 jfif"),
    "image/png": ("scan.png", b"\x89PNG\r\n\x1a\n IHDR"),
    XLSX: ("台账.xlsx", b"PK\x03\x04 workbook"),
    DOCX: ("minutes.docx", b"PK\x03\x04 document"),
    "text/csv": ("roster.csv", "姓名,学校\n张三,一中\n".encode()),
}


def refusal(
    name: str = "report.pdf", media_type: str = "application/pdf", data: bytes = b"%PDF-1.7", max_bytes: int = MB
) -> BlobRefused:
    with pytest.raises(BlobRefused) as caught:
        check(name, media_type, data, max_bytes)
    assert caught.value.field == "file"
    assert caught.value.status == 422
    return caught.value


def test_every_allowed_type_has_a_good_example():
    assert set(GOOD_FILES) == set(ALLOWED_MEDIA_TYPES)


@pytest.mark.parametrize("media_type", sorted(GOOD_FILES))
def test_a_file_whose_name_and_content_match_its_type_is_accepted(media_type: str):
    name, data = GOOD_FILES[media_type]
    check(name, media_type, data, MB)


def test_a_second_jpeg_extension_and_media_type_parameters_are_accepted():
    check("photo.jpeg", "image/jpeg", b"\xff\xd8\xff\xdb", MB)
    check("roster.csv", "Text/CSV; charset=utf-8", b"a,b\n", MB)


def test_a_path_sent_as_the_name_is_cut_to_its_last_part():
    check(r"C:\Users\张三\Desktop\report.pdf", "application/pdf", b"%PDF-1.4", MB)


def test_an_empty_file_is_refused():
    assert refusal(data=b"").rule == "file_empty"


def test_an_oversized_file_is_refused_saying_the_limit_and_the_size():
    problem = refusal(data=b"%PDF-" + b"x" * (3 * MB), max_bytes=2 * MB)
    assert problem.rule == "file_too_large"
    assert "3.0 MB" in problem.detail and "2.0 MB" in problem.detail and "compress it or split it" in problem.detail
    assert problem.body()["max_bytes"] == 2 * MB


def test_a_file_exactly_at_the_limit_is_accepted():
    check("report.pdf", "application/pdf", b"%PDF-" + b"x" * (MB - 5), MB)


@pytest.mark.parametrize("media_type", ["application/zip", "application/x-msdownload", "text/html", "image/jpg", ""])
def test_a_media_type_we_do_not_keep_is_refused_listing_the_allowed_ones(media_type: str):
    problem = refusal(name="evidence.zip", media_type=media_type, data=b"PK\x03\x04")
    assert problem.rule == "file_type_not_allowed"
    assert "allowed: application/pdf (.pdf)" in problem.detail


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("report.exe", "application/pdf"),
        ("report", "application/pdf"),
        ("photo.png", "image/jpeg"),
        ("book.docx", XLSX),
    ],
)
def test_an_extension_that_does_not_match_the_media_type_is_refused(name: str, media_type: str):
    data = GOOD_FILES[media_type][1]
    assert refusal(name=name, media_type=media_type, data=data).rule == "file_type_not_allowed"


@pytest.mark.parametrize("media_type", sorted(set(GOOD_FILES) - {"text/csv"}))
def test_content_that_is_not_what_the_media_type_claims_is_refused(media_type: str):
    name = GOOD_FILES[media_type][0]
    problem = refusal(name=name, media_type=media_type, data=b"MZ\x90\x00 an executable")
    assert problem.rule == "file_type_not_allowed"
    assert "allowed:" in problem.detail


def test_a_png_sent_as_a_jpeg_is_refused_by_its_content():
    assert (
        refusal(name="photo.jpg", media_type="image/jpeg", data=GOOD_FILES["image/png"][1]).rule
        == "file_type_not_allowed"
    )


@pytest.mark.parametrize("name", ["", "   ", "folder/", "..", "a" * 197 + ".pdf", "bad\nname.pdf"])
def test_a_missing_overlong_or_control_character_name_is_refused(name: str):
    assert refusal(name=name).rule == "file_name"


def test_a_name_of_exactly_200_characters_is_accepted():
    check("a" * 196 + ".pdf", "application/pdf", b"%PDF-1.7", MB)


def test_a_stored_blob_records_name_digest_size_and_type_but_no_bytes():
    blob = StoredBlob(name="自评报告.pdf", sha256=EMPTY_SHA256, size=1234, media_type="application/pdf")
    assert blob.as_record() == {
        "name": "自评报告.pdf",
        "sha256": EMPTY_SHA256,
        "size": 1234,
        "media_type": "application/pdf",
    }


def test_the_signer_matches_the_aws_get_vanilla_test_vector():
    authorization = sign_v4(
        method="GET",
        path="/",
        headers={"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"},
        payload_hash=EMPTY_SHA256,
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="service",
    )
    assert authorization == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_the_signer_matches_the_aws_s3_get_object_example():
    # From the S3 API reference, "Signature Calculations for the Authorization Header", GET Object.
    authorization = sign_v4(
        method="GET",
        path="/test.txt",
        headers={
            "Host": "examplebucket.s3.amazonaws.com",
            "Range": "bytes=0-9",
            "x-amz-content-sha256": EMPTY_SHA256,
            "x-amz-date": "20130524T000000Z",
        },
        payload_hash=EMPTY_SHA256,
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="s3",
    )
    assert authorization.endswith("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


def settings(blob_url: str) -> Settings:
    return replace(Settings(home=Path("/srv/dudao")), blob_url=blob_url)


def test_no_blob_url_means_a_directory_under_home():
    store = store_from_settings(settings(""))
    assert isinstance(store, LocalBlobStore) and store.root == Path("/srv/dudao/blobs")


def test_a_file_url_names_the_directory():
    store = store_from_settings(settings("file:///var/lib/dudao/evidence"))
    assert isinstance(store, LocalBlobStore) and store.root == Path("/var/lib/dudao/evidence")


def test_an_s3_url_gives_endpoint_bucket_keys_and_region():
    store = store_from_settings(
        settings("s3://minio:wJalr%2FK7MDENG+bPxR@minio.local:9000/evidence?region=cn-hangzhou&secure=false")
    )
    try:
        assert isinstance(store, S3BlobStore)
        assert (store.endpoint, store.bucket, store.region) == ("http://minio.local:9000", "evidence", "cn-hangzhou")
        assert (store._access_key, store._secret_key) == ("minio", "wJalr/K7MDENG+bPxR")
    finally:
        store.close()


def test_an_s3_url_is_https_in_us_east_1_unless_told_otherwise():
    store = store_from_settings(settings("s3://AK:SK@oss-cn-hangzhou.aliyuncs.com/evidence"))
    try:
        assert isinstance(store, S3BlobStore)
        assert (store.endpoint, store.region) == ("https://oss-cn-hangzhou.aliyuncs.com", "us-east-1")
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/x",
        "s3://host:9000/bucket",
        "s3://AK:SK@host:9000/",
        "s3://AK:SK@host/a/b",
        "file://relative/path",
        "/just/a/path",
    ],
)
def test_any_other_blob_url_is_refused_naming_the_setting_without_echoing_secrets(url: str):
    with pytest.raises(ValueError, match="DUDAO_BLOB_URL") as caught:
        store_from_settings(settings(url))
    assert "file:///absolute/path" in str(caught.value) and "s3://ACCESS_KEY:SECRET_KEY@" in str(caught.value)
    assert "SK@" not in str(caught.value)


def test_a_key_that_is_not_a_digest_never_reaches_the_file_system():
    with pytest.raises(InvalidInput) as caught:
        LocalBlobStore(Path("/nonexistent")).path("../../etc/passwd")
    assert caught.value.rule == "sha256_format"
