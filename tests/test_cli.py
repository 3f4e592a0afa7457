"""The real `bucketry` command, run in a subprocess as a user would: output and exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.emulators import S3_KEY_ID, S3_SECRET

MiB = 1024 * 1024


def bucketry(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "bucketry_cli", *args],
        capture_output=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def out(result: Any) -> str:
    return str(result.stdout.decode())


def err(result: Any) -> str:
    return str(result.stderr.decode())


@pytest.fixture
def s3_env(moto_endpoint: str) -> dict[str, str]:
    """Credentials the way a shell user sets them: the standard AWS variables."""
    return {
        "AWS_ACCESS_KEY_ID": S3_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.fixture
def s3_url(moto_endpoint: str, s3_bucket: str) -> Any:
    def url(key: str) -> str:
        return f"s3://{s3_bucket}/cli/{key}?endpoint_url={moto_endpoint}"

    return url


def test_local_round_trip_ls_stat_cat_rm(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\n")
    result = bucketry("cp", str(tmp_path / "hello.txt"), f"file://{tmp_path}/store/")
    assert result.returncode == 0, err(result)
    assert err(result) == "", "no progress bar and no noise when stderr is not a terminal"
    assert out(result).startswith(f"{tmp_path}/hello.txt -> {tmp_path}/store/hello.txt  6 bytes")
    assert out(bucketry("ls", f"{tmp_path}/store")) == "hello.txt\n"
    listing = json.loads(out(bucketry("--json", "ls", "-l", f"file://{tmp_path}/store/")))
    assert listing[0]["name"] == "hello.txt"
    assert listing[0]["size"] == 6
    info = json.loads(out(bucketry("--json", "stat", f"{tmp_path}/store/hello.txt")))
    assert info["size"] == 6
    assert info["content_type"] == "text/plain"
    assert bucketry("cat", f"{tmp_path}/store/hello.txt").stdout == b"hello\n"
    assert bucketry("rm", f"{tmp_path}/store/hello.txt").returncode == 0
    assert not (tmp_path / "store" / "hello.txt").exists()


def test_recursive_copy_and_remove(tmp_path: Path) -> None:
    for name in ("a.txt", "sub/b.txt", "sub/deep/c.txt"):
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_text(name)
    result = bucketry("cp", "-r", f"{tmp_path}/src/", f"{tmp_path}/dst/")
    assert result.returncode == 0, err(result)
    assert (tmp_path / "dst" / "sub" / "deep" / "c.txt").read_text() == "sub/deep/c.txt"
    recursive = out(bucketry("ls", "-r", f"{tmp_path}/dst"))
    assert sorted(recursive.split()) == sorted(
        f"{tmp_path}/dst/{n}".lstrip("/") for n in ("a.txt", "sub/b.txt", "sub/deep/c.txt")
    )
    assert out(bucketry("ls", f"{tmp_path}/dst")).split() == ["sub/", "a.txt"]
    removed = bucketry("--json", "rm", "-r", f"{tmp_path}/dst/sub")
    assert json.loads(out(removed)) == {"deleted": 2}


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    missing = bucketry("cat", f"{tmp_path}/missing.txt")
    assert missing.returncode == 1
    assert err(missing).count("\n") == 1
    assert "NotFoundError" in err(missing)
    assert "Traceback" not in err(missing)
    unknown = bucketry("ls", "nosuch://bucket/key")
    assert unknown.returncode == 2
    assert "Installed backends" in err(unknown)
    usage = bucketry("cp", "only-one-argument")
    assert usage.returncode == 2
    debug = bucketry("--debug", "cat", f"{tmp_path}/missing.txt")
    assert "Traceback" in err(debug)


def test_memory_urls_work_within_one_command() -> None:
    result = bucketry("ls", "memory://")
    assert result.returncode == 0
    assert out(result) == ""


def test_help_everywhere_has_examples() -> None:
    for command in ("ls", "cp", "cat", "rm", "stat", "url", "check", "backends"):
        result = bucketry(command, "--help")
        assert result.returncode == 0
        assert "Example" in out(result), command


def test_named_storage_from_config_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "bucketry.toml").write_text(
        f'[storages.media]\nbackend = "filesystem"\nlocation = "{tmp_path}/store"\n'
        f'base_url = "https://cdn.example/"\n'
    )
    (tmp_path / "x.txt").write_text("x")
    assert bucketry("cp", "x.txt", "media:photos/x.txt", cwd=tmp_path).returncode == 0
    assert (tmp_path / "store" / "photos" / "x.txt").read_text() == "x"
    assert out(bucketry("url", "media:photos/a b.txt", cwd=tmp_path)).strip() == (
        "https://cdn.example/photos/a%20b.txt"
    )
    env = {"BUCKETRY_STORAGE_URL_ARCHIVE": f"file://{tmp_path}/store"}
    assert out(bucketry("ls", "archive:photos", env=env)) == "x.txt\n"


def test_cross_backend_copy_of_64_mib(tmp_path: Path, s3_env: dict[str, str], s3_url: Any) -> None:
    big = tmp_path / "big.bin"
    block = os.urandom(MiB)
    with big.open("wb") as file:
        for index in range(64):
            file.write(index.to_bytes(4, "big") + block[4:])
    digest = hashlib.sha256(big.read_bytes()).hexdigest()

    up = bucketry("cp", str(big), s3_url("big.bin"), env=s3_env)
    assert up.returncode == 0, err(up)
    assert "server-side" not in out(up)
    same_bucket = bucketry("cp", s3_url("big.bin"), s3_url("copy/big.bin"), env=s3_env)
    assert same_bucket.returncode == 0, err(same_bucket)
    assert "server-side" in out(same_bucket)
    down = bucketry("cp", s3_url("copy/big.bin"), f"{tmp_path}/back.bin", env=s3_env)
    assert down.returncode == 0, err(down)
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).hexdigest() == digest

    info = json.loads(out(bucketry("--json", "stat", s3_url("copy/big.bin"), env=s3_env)))
    assert info["size"] == 64 * MiB
    listing = out(bucketry("ls", "-r", s3_url(""), env=s3_env)).split()
    assert {"cli/big.bin", "cli/copy/big.bin"} <= set(listing)
    signed = out(bucketry("url", "--expires", "60", s3_url("big.bin"), env=s3_env))
    assert "X-Amz-Signature=" in signed
    assert bucketry("rm", "-r", s3_url(""), env=s3_env).returncode == 0


def test_check_memory_prints_the_contract_table() -> None:
    result = bucketry("check", "memory")
    assert result.returncode == 0, out(result)[-2000:]
    assert "| TestMemoryContract | listing | passed |" in out(result)
    assert "| TestMemoryContract | urls | passed | 1 | 0 | 2 | 0 |" in out(result)


def test_check_filesystem_gets_a_temporary_location() -> None:
    result = bucketry("check", "filesystem", "-k", "round_trip")
    assert result.returncode == 0, out(result)[-2000:]
    assert "| TestFilesystemContract | round-trip | passed |" in out(result)


def test_check_with_a_bad_option_is_a_usage_error() -> None:
    result = bucketry("check", "memory", "-o", "no-equals-sign")
    assert result.returncode == 2
    assert "key=value" in err(result)


def test_backends_lists_everything_installed() -> None:
    result = bucketry("--json", "backends")
    assert {"filesystem", "memory", "s3", "gcs", "azure"} <= set(json.loads(out(result)))


def test_a_malformed_url_is_one_line_and_a_usage_error() -> None:
    result = bucketry("ls", "s3://[x/?secret_access_key=DO-NOT-SHOW-0003")
    assert result.returncode == 2
    assert err(result).count("\n") == 1, err(result)
    assert "ConfigurationError" in err(result)
    assert "not a valid URL" in err(result)
    assert "DO-NOT-SHOW-0003" not in err(result)


def test_a_typo_of_an_alias_is_an_error_not_a_local_write(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "bucketry.toml").write_text(
        f'[storages.media]\nbackend = "filesystem"\nlocation = "{tmp_path}/media"\n'
    )
    result = bucketry("cp", "hello.txt", "medai:greetings/", cwd=tmp_path)
    assert result.returncode == 2, err(result)
    assert "'medai' is not a configured storage" in err(result)
    assert "media" in err(result)
    assert "./medai:greetings/" in err(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bucketry.toml", "hello.txt"]
    nothing = bucketry("ls", "nosuchalias:foo", cwd=tmp_path)
    assert nothing.returncode == 2
    written = bucketry("cp", "hello.txt", "./medai:greetings", cwd=tmp_path)
    assert written.returncode == 0, err(written)  # spelled as a path, it is one
    assert (tmp_path / "medai:greetings").read_text() == "hello\n"


def test_missing_local_sources_are_not_found_with_or_without_debug(tmp_path: Path) -> None:
    missing = str(tmp_path / "does" / "not" / "exist")
    for command in (["ls"], ["--json", "ls"], ["rm"], ["rm", "-r"], ["cat"], ["stat"], ["cp"]):
        arguments = [*command, missing] + ([str(tmp_path / "out")] if command == ["cp"] else [])
        result = bucketry(*arguments)
        assert result.returncode == 1, (command, err(result))
        assert "NotFoundError" in err(result)
        assert missing in err(result), "the path as typed, leading '/' included"
        debug = bucketry("--debug", *arguments)
        assert debug.returncode == 1, "--debug adds a traceback, never another exit code"
        assert "Traceback" in err(debug)


def test_a_directory_without_r_is_a_usage_error_with_the_hint(tmp_path: Path) -> None:
    (tmp_path / "somedir").mkdir()
    (tmp_path / "somedir" / "a.txt").write_text("a")
    for command in (["cp", "./somedir", "out"], ["rm", "./somedir"]):
        result = bucketry(*command, cwd=tmp_path)
        assert result.returncode == 2, err(result)
        assert "-r" in err(result)
        assert "ends with '/'" not in err(result)
    assert (tmp_path / "somedir" / "a.txt").exists()


def test_memory_key_urls_version_and_a_failing_check(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    assert bucketry("cp", str(tmp_path / "a.txt"), "memory://key").returncode == 0
    version = bucketry("--version")
    assert version.returncode == 0
    assert out(version).startswith("bucketry, version ")
    check = bucketry(
        "check",
        "s3",
        "-o",
        "bucket=b",
        "-o",
        "endpoint_url=http://127.0.0.1:9",
        "-o",
        "region=us-east-1",
        "-o",
        "access_key_id=x",
        "-o",
        "secret_access_key=y",
        cwd=tmp_path,
    )
    assert check.returncode == 1, "unreachable: the operation failed, as for every command"
    assert err(check).count("\n") == 1, err(check)
    assert "UnavailableError" in err(check)
    unreachable = (
        "s3://b/?endpoint_url=http://127.0.0.1:9&region=us-east-1&max_attempts=1"
        "&access_key_id=x&secret_access_key=y"
    )
    listing = bucketry("ls", unreachable, cwd=tmp_path)
    assert listing.returncode == check.returncode, "the same failure, the same exit code"
    assert "UnavailableError" in err(listing)
    assert list(tmp_path.iterdir()) == [tmp_path / "a.txt"], "nothing left in the working dir"


def test_a_misspelt_keyword_names_the_closest_option() -> None:
    from bucketry import ConfigurationError, create_storage

    with pytest.raises(ConfigurationError, match="Did you mean 'region'"):
        create_storage("s3", bucket="b", regoin="eu-west-1")
    with pytest.raises(ConfigurationError, match="Did you mean 'region'"):
        create_storage("s3://b?regoin=eu-west-1")
    with pytest.raises(ConfigurationError, match="looks like a path"):
        create_storage("/tmp/plainpath")
