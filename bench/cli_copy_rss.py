"""Peak RSS of the ``bucketry cp`` process copying a large local file to S3 (moto).

    python3 -m uv run python bench/cli_copy_rss.py --size-mib 512

The growth reported is the CLI's peak resident size for the large copy minus its peak for a
1 KiB copy, so the interpreter, the SDK and the client are counted once, in the baseline, and what
remains is what the transfer itself held. moto runs in its own process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from large_upload_rss import create_bench_bucket, moto_process

MiB = 1024 * 1024


def peak_rss_mib(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run the CLI; return (its peak RSS in MiB, seconds taken). Linux reports ru_maxrss in KiB."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bucketry_cli", "-q", *arguments],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bucketry {' '.join(arguments)} failed: {process.stderr.read().decode()}")  # type: ignore[union-attr]
    return usage.ru_maxrss / 1024, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    args = parser.parse_args()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with tempfile.TemporaryDirectory() as workdir, moto_process() as endpoint:
        create_bench_bucket("s3", endpoint)
        small, big = Path(workdir, "small.bin"), Path(workdir, "big.bin")
        small.write_bytes(os.urandom(1024))
        block = os.urandom(MiB)
        with big.open("wb") as file:
            for _ in range(args.size_mib):
                file.write(block)
        target = f"s3://bench/cli/?endpoint_url={endpoint}"
        baseline, _ = peak_rss_mib(["cp", str(small), target], env)
        peak, seconds = peak_rss_mib(["cp", str(big), target], env)
    print(
        "| copy | size MiB | seconds | MB/s | CLI peak RSS MiB "
        "| baseline (1 KiB copy) MiB | growth MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| filesystem -> s3 (moto) | {args.size_mib} | {seconds:.1f} "
        f"| {args.size_mib * MiB / 1e6 / seconds:.1f} | {peak:.1f} | {baseline:.1f} "
        f"| {peak - baseline:.1f} |"
    )


if __name__ == "__main__":
    main()
