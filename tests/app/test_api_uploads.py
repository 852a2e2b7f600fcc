"""Uploads: streamed to disk under a generated name, sha256 and size counted, owner-only reads."""

from __future__ import annotations

import hashlib
import os
from urllib.parse import unquote

from app.routes.uploads import content_disposition

LIMIT = 64 * 1024  # the test settings' UPLOAD_MAX_BYTES


def upload(client, headers, content: bytes, name: str = "report.pdf",
           content_type: str = "application/pdf"):
    return client.post("/uploads", headers=headers,
                       files={"file": (name, content, content_type)})


def test_upload_round_trip(client, user_headers, upload_dir):
    content = os.urandom(LIMIT)  # exactly at the limit
    created = upload(client, user_headers, content)
    assert created.status_code == 201, created.text
    meta = created.json()
    assert meta["size_bytes"] == LIMIT
    assert meta["sha256"] == hashlib.sha256(content).hexdigest()
    assert meta["original_name"] == "report.pdf"
    assert meta["content_type"] == "application/pdf"
    assert client.get(f"/uploads/{meta['id']}", headers=user_headers).json() == meta
    download = client.get(f"/uploads/{meta['id']}/content", headers=user_headers)
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-type"] == "application/pdf"
    stored = list(upload_dir.iterdir())
    assert len(stored) == 1 and len(stored[0].name) == 32  # uuid hex, nothing else


def test_client_file_name_is_metadata_only(client, user_headers, upload_dir, tmp_path):
    hostile = "../../etc/passwd; 日本語.txt"
    meta = upload(client, user_headers, b"hello", name=hostile, content_type="text/plain").json()
    assert meta["original_name"] == hostile
    assert [p.parent for p in upload_dir.iterdir()] == [upload_dir]
    assert not (tmp_path.parent / "etc").exists()
    disposition = client.get(f"/uploads/{meta['id']}/content",
                             headers=user_headers).headers["content-disposition"]
    fallback, encoded = disposition.split("; filename*=UTF-8''")
    assert fallback == 'attachment; filename="../../etc/passwd; ___.txt"'
    assert unquote(encoded) == hostile


def test_oversize_upload_is_413_and_leaves_no_file(client, user_headers, upload_dir):
    response = upload(client, user_headers, b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []
    way_over = upload(client, user_headers, b"x" * (LIMIT * 4))  # refused by Content-Length
    assert way_over.status_code == 413


def test_odd_content_types_fall_back_to_octet_stream(client, user_headers):
    meta = upload(client, user_headers, b"<b>", content_type="text/html\r\nX: y").json()
    assert meta["content_type"] in ("application/octet-stream", "text/html")


def test_uploads_are_private(client, user_headers, other_headers):
    meta = upload(client, user_headers, b"secret").json()
    assert client.get(f"/uploads/{meta['id']}", headers=other_headers).status_code == 404
    assert client.get(f"/uploads/{meta['id']}/content", headers=other_headers).status_code == 404
    assert client.get(f"/uploads/{meta['id']}").status_code == 401
    assert client.get("/uploads/999", headers=user_headers).status_code == 404


def test_bad_upload_requests_are_422(client, user_headers):
    assert client.post("/uploads", headers=user_headers, json={"file": "x"}).status_code == 422
    wrong_field = client.post("/uploads", headers=user_headers,
                              files={"document": ("a.txt", b"a", "text/plain")})
    assert wrong_field.status_code == 422
    assert "'file'" in wrong_field.json()["detail"]
    not_a_file = client.post("/uploads", headers=user_headers, data={"file": "just text"},
                             files={"other": ("a.txt", b"a", "text/plain")})
    assert not_a_file.status_code == 422
    broken = client.post("/uploads", headers={**user_headers,
                         "Content-Type": "multipart/form-data; boundary=xyz"},
                         content=b"--xyz\r\ngarbage without headers end")
    assert broken.status_code == 422


def test_content_disposition_never_breaks_out_of_its_quotes():
    header = content_disposition('a"b\\c\r\n€.txt')
    assert header.startswith('attachment; filename="a_b_c___.txt"; ')
    assert "\r" not in header and "\n" not in header
    assert unquote(header.split("UTF-8''")[1]) == 'a"b\\c\r\n€.txt'
