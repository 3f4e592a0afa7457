"""`bucketry sync` as a user runs it, between the local disk, S3, GCS and Azure on emulators."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.emulators import S3_KEY_ID, S3_SECRET
from tests.test_cli import bucketry, err, out

KiB = 1024


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def _sync(*arguments: str, env: dict[str, str]) -> dict[str, Any]:
    result = bucketry("--json", "sync", *arguments, env=env)
    assert result.returncode == 0, err(result)
    return dict(json.loads(out(result)))


def test_sync_local_s3_gcs_azure_and_back(
    tmp_path: Path,
    moto_endpoint: str,
    s3_bucket: str,
    gcs_endpoint: str,
    gcs_bucket: str,
    azurite_connection_string: str,
    azure_container: str,
) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": S3_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    run = f"sync-{secrets.token_hex(3)}"
    source = tmp_path / "source"
    (source / "sub" / "deeper").mkdir(parents=True)
    (source / "a.txt").write_text("alpha\n")
    (source / "sub" / "b.bin").write_bytes(secrets.token_bytes(100 * KiB))
    (source / "sub" / "deeper" / "c.txt").write_text("gamma\n")
    s3 = f"s3://{s3_bucket}/{run}/?endpoint_url={quote(moto_endpoint, safe='')}"
    gcs = f"gs://{gcs_bucket}/{run}/?emulator_host={quote(gcs_endpoint, safe='')}"
    azure = (
        f"azure://{azure_container}/{run}/"
        f"?connection_string={quote(azurite_connection_string, safe='')}"
    )
    back = tmp_path / "back"

    first = _sync(f"{source}/", s3, env=env)
    assert sorted(item["name"] for item in first["copied"]) == [
        "a.txt",
        "sub/b.bin",
        "sub/deeper/c.txt",
    ]
    assert {item["reason"] for item in first["copied"]} == {"new"}
    again = _sync(f"{source}/", s3, env=env)
    assert again["copied"] == []
    assert again["unchanged"] == 3
    _sync(s3, gcs, env=env)
    _sync(gcs, azure, env=env)
    _sync(azure, f"{back}/", env=env)
    assert _tree(back) == _tree(source)

    (source / "a.txt").write_text("alpha, longer now\n")
    (source / "d.txt").write_text("delta\n")
    (source / "sub" / "deeper" / "c.txt").unlink()
    planned = _sync("--dry-run", "--delete", f"{source}/", s3, env=env)
    assert planned["dry_run"] is True
    assert {(item["name"], item["reason"]) for item in planned["copied"]} == {
        ("a.txt", "size differs"),
        ("d.txt", "new"),
    }
    assert planned["deleted"] == ["sub/deeper/c.txt"]
    untouched = _sync(f"{s3}", f"{tmp_path / 'probe'}/", env=env)
    assert len(untouched["copied"]) == 3, "a dry run changed nothing"
    done = _sync("--delete", f"{source}/", s3, env=env)
    assert done["deleted"] == ["sub/deeper/c.txt"]
    _sync("--delete", s3, f"{back}/", env=env)
    assert _tree(back) == _tree(source)

    # Same size, older source: only --checksum sees that the bytes differ.
    (back / "a.txt").write_text("ALPHA, LONGER NOW\n")
    for path in back.rglob("*"):
        os.utime(path, (0, 0))  # older than what S3 holds: by size and time, nothing to do
    assert _sync(f"{back}/", s3, env=env)["copied"] == []
    by_content = _sync("--checksum", f"{back}/", s3, env=env)
    assert [(item["name"], item["reason"]) for item in by_content["copied"]] == [
        ("a.txt", "content differs")
    ]


def test_sync_from_a_missing_directory_is_not_found(tmp_path: Path) -> None:
    result = bucketry("sync", str(tmp_path / "nothing"), str(tmp_path / "out"))
    assert result.returncode == 1
    assert "NotFoundError" in err(result)
