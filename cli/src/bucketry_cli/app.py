"""The ``bucketry`` commands: ls, cp, sync, cat, rm, stat, url, check, backends.

Exit codes: 0 success; 1 the operation failed (a missing file, a refused request, a failed contract
test); 2 the command was used wrongly or a storage is misconfigured. An error is one line on stderr,
with a traceback only under ``--debug``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import tempfile
import textwrap
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from bucketry import __version__
from bucketry.config import close_storages
from bucketry.errors import BucketryError, ConfigurationError, NotFoundError
from bucketry.info import FileInfo
from bucketry.redaction import scrub
from bucketry.registry import available_backends, load_backend
from bucketry_cli.targets import Target, resolve
from bucketry_cli.transfer import Copied, copy_one, copy_tree, plan_sync, plan_tree

__all__ = ["cli", "main"]

T = TypeVar("T")
CHECK_ENVIRONMENT = "BUCKETRY_CHECK_SPEC"

TARGETS_HELP = """
\b
Targets:
  s3://bucket/key  gs://bucket/key  azure://container/key   a URL (options in ?query)
  file:///srv/media/a.jpg  memory://key                     the local backends
  media:photos/a.jpg        a storage named in bucketry.toml or BUCKETRY_STORAGE_URL_MEDIA
  ./report.pdf              a plain local path
"""


def _run(work: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        try:
            return await work()
        finally:
            await close_storages()

    return asyncio.run(runner())


def _target(context: click.Context, argument: str) -> Target:
    target = resolve(argument, context.obj.get("config"))
    context.obj.setdefault("opened", []).append(target.storage)
    return target


def _source(context: click.Context, argument: str) -> Target:
    """A target that must already be there: a local path that does not exist is an error
    (on an object store, an empty prefix is an ordinary answer)."""
    target = _target(context, argument)
    if target.local and not os.path.lexists("/" + target.path):
        raise NotFoundError(f"{argument} does not exist.")
    return target


def _not_a_directory(target: Target, argument: str, command: str) -> None:
    if target.is_directory:
        raise click.UsageError(
            f"{argument} is a directory; use `bucketry {command} -r {argument}` for what is "
            "under it."
        )


async def _close(context: click.Context) -> None:
    for storage in context.obj.get("opened", []):
        await storage.aclose()


def _emit(context: click.Context, payload: Any, text: Callable[[], None]) -> None:
    if context.obj.get("json"):
        click.echo(json.dumps(payload, default=_json_default))
    else:
        text()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "items"):
        return dict(value)
    raise TypeError(type(value).__name__)


def _info_dict(info: FileInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "type": "file",
        "size": info.size,
        "etag": info.etag,
        "content_type": info.content_type,
        "last_modified": info.last_modified,
        "metadata": dict(info.metadata),
    }


@contextmanager
def _progress(context: click.Context, total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A bytes / rate / ETA bar on stderr when it is a terminal; nothing otherwise."""
    if context.obj.get("json") or context.obj.get("quiet") or not sys.stderr.isatty():
        yield lambda _: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda count: bar.advance(task, count)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=TARGETS_HELP,
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, one JSON document.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option("--config", metavar="PATH", help="A bucketry.toml other than the usual places.")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(__version__, "--version", prog_name="bucketry")
@click.pass_context
def cli(
    context: click.Context, as_json: bool, quiet: bool, config: str | None, debug: bool
) -> None:
    """Files on S3, GCS, Azure Blob, the local disk and memory, from one command.

    \b
    Examples:
      bucketry ls -l s3://media/photos/
      bucketry cp ./report.pdf gs://archive/2026/
      bucketry cp -r media:photos/ ./backup/
      bucketry cat azure://logs/app.log | tail
    """
    context.obj = {"json": as_json, "quiet": quiet, "config": config, "debug": debug}


@cli.command("ls")
@click.argument("target", default=".")
@click.option("-r", "--recursive", is_flag=True, help="Every file below, not one level.")
@click.option("-l", "--long", "long_format", is_flag=True, help="Size and modification time.")
@click.pass_context
def ls(context: click.Context, target: str, recursive: bool, long_format: bool) -> None:
    """List a directory (a prefix) of a storage.

    \b
    Examples:
      bucketry ls s3://media/
      bucketry ls -r -l media:photos
      bucketry --json ls ./uploads
    """
    place = _source(context, target)

    async def work() -> tuple[list[str], list[FileInfo]]:
        try:
            prefix = place.path
            if recursive:
                return [], [info async for info in place.storage.list(prefix)]
            dirs, _ = await place.storage.listdir(prefix)
            files = [info async for info in place.storage.list(prefix, recursive=False)]
            if not dirs and not files and prefix and await place.storage.exists(prefix):
                return [], [await place.storage.stat(prefix)]  # ls of one file shows it
            return dirs, sorted(files, key=lambda info: info.name)
        finally:
            await _close(context)

    dirs, files = _run(work)
    base = place.path if not place.path or place.path.endswith("/") else place.path + "/"

    def shown(name: str) -> str:
        return name if recursive else name[len(base) :] if name.startswith(base) else name

    def text() -> None:
        for directory in dirs:
            click.echo(f"{'DIR':>12}  {'':19}  {directory}/" if long_format else f"{directory}/")
        for info in files:
            if long_format:
                when = (
                    info.last_modified.strftime("%Y-%m-%d %H:%M:%S") if info.last_modified else ""
                )
                click.echo(f"{info.size:>12}  {when:19}  {shown(info.name)}")
            else:
                click.echo(shown(info.name))

    payload = [{"name": d + "/", "type": "directory"} for d in dirs]
    payload += [{**_info_dict(info), "name": shown(info.name)} for info in files]
    _emit(context, payload, text)


@cli.command("cp")
@click.argument("source")
@click.argument("destination")
@click.option("-r", "--recursive", is_flag=True, help="Copy every file under SOURCE.")
@click.option("-n", "--no-clobber", is_flag=True, help="Skip files that exist at DESTINATION.")
@click.option("-j", "--jobs", default=4, show_default=True, help="Files copied at once with -r.")
@click.pass_context
def cp(
    context: click.Context,
    source: str,
    destination: str,
    recursive: bool,
    no_clobber: bool,
    jobs: int,
) -> None:
    """Copy a file, or with -r a directory, between any two targets.

    Inside one storage the copy happens server-side; between storages it streams, chunk by
    chunk, so memory stays flat for any size. A DESTINATION ending in '/' (or an existing local
    directory) receives the file under its own name.

    \b
    Examples:
      bucketry cp ./video.mp4 s3://media/videos/
      bucketry cp s3://media/videos/video.mp4 gs://backup/video.mp4
      bucketry cp -r ./site/ azure://web/site/
    """
    origin, target = _source(context, source), _target(context, destination)
    if not recursive:
        _not_a_directory(origin, source, "cp")

    async def work() -> list[Copied]:
        try:
            if recursive:
                files = await plan_tree(origin)
                if not files:
                    raise NotFoundError(f"Nothing to copy under {source}.")
                total = sum(size for _, size in files)
                with _progress(context, total, f"{len(files)} files") as advance:
                    return await copy_tree(
                        origin,
                        target,
                        files,
                        advance=advance,
                        no_clobber=no_clobber,
                        concurrency=jobs,
                    )
            info = await origin.storage.stat(origin.path)
            label = origin.path.rsplit("/", 1)[-1]
            with _progress(context, info.size, label) as advance:
                return [await copy_one(origin, target, advance=advance, no_clobber=no_clobber)]
        finally:
            await _close(context)

    copied = _run(work)

    def text() -> None:
        if context.obj.get("quiet"):
            return
        for item in copied:
            how = "skipped (exists)" if item.skipped else "server-side" if item.server_side else ""
            click.echo(f"{item.source} -> {item.destination}  {item.size} bytes  {how}".rstrip())

    _emit(context, [vars(item) for item in copied], text)


@cli.command("sync")
@click.argument("source")
@click.argument("destination")
@click.option("--delete", is_flag=True, help="Delete files under DESTINATION not in SOURCE.")
@click.option("--dry-run", is_flag=True, help="Say what would be copied and deleted; do nothing.")
@click.option(
    "--checksum", is_flag=True, help="Compare contents, not sizes and times (reads both)."
)
@click.option("-j", "--jobs", default=4, show_default=True, help="Files copied at once.")
@click.pass_context
def sync(
    context: click.Context,
    source: str,
    destination: str,
    delete: bool,
    dry_run: bool,
    checksum: bool,
    jobs: int,
) -> None:
    """Make DESTINATION's tree match SOURCE's: copy what is new or changed (size, or a newer
    source), and with --delete remove what SOURCE does not have. Works between any two storages,
    streaming, or server-side inside one.

    \b
    Examples:
      bucketry sync ./site/ s3://web/site/
      bucketry sync --delete --dry-run media:photos/ gs://backup/photos/
      bucketry --json sync --checksum s3://a/data/ azure://b/data/
    """
    origin, target = _source(context, source), _target(context, destination)
    if not origin.is_directory:
        origin = origin.child("")

    async def work() -> tuple[list[Copied], list[str], int, list[tuple[str, int, str]]]:
        try:
            plan = await plan_sync(origin, target, checksum=checksum, delete=delete)
            if dry_run:
                return [], plan.delete, plan.unchanged, plan.copy
            files = [(relative, size) for relative, size, _ in plan.copy]
            total = sum(size for _, size in files)
            with _progress(context, total, f"{len(files)} files") as advance:
                copied = await copy_tree(origin, target, files, advance=advance, concurrency=jobs)
            root = target.child("")
            for relative in plan.delete:
                await root.storage.delete(root.child(relative).path)
            return copied, plan.delete, plan.unchanged, plan.copy
        finally:
            await _close(context)

    _, deleted, unchanged, planned = _run(work)

    def text() -> None:
        if context.obj.get("quiet"):
            return
        verb = "would copy" if dry_run else "copied"
        for relative, size, why in planned:
            click.echo(f"{verb} {relative}  {size} bytes  ({why})")
        for relative in deleted:
            click.echo(f"{'would delete' if dry_run else 'deleted'} {relative}")
        click.echo(
            f"{len(planned)} {verb}, {len(deleted)} {'to delete' if dry_run else 'deleted'}, "
            f"{unchanged} unchanged"
        )

    payload = {
        "dry_run": dry_run,
        "copied": [{"name": r, "size": s, "reason": w} for r, s, w in planned],
        "deleted": deleted,
        "unchanged": unchanged,
    }
    _emit(context, payload, text)


@cli.command("cat")
@click.argument("target")
@click.pass_context
def cat(context: click.Context, target: str) -> None:
    """Write a file's bytes to standard output.

    \b
    Example:
      bucketry cat s3://logs/2026-11-21.log | grep ERROR
    """
    place = _source(context, target)
    out = sys.stdout.buffer

    async def work() -> None:
        try:
            async for chunk in place.storage.stream(place.path):
                out.write(chunk)
            out.flush()
        finally:
            await _close(context)

    _run(work)


@cli.command("rm")
@click.argument("target")
@click.option("-r", "--recursive", is_flag=True, help="Delete every file under the directory.")
@click.pass_context
def rm(context: click.Context, target: str, recursive: bool) -> None:
    """Delete a file, or with -r every file under a directory. Deleting nothing is not an error.

    \b
    Examples:
      bucketry rm s3://media/old.jpg
      bucketry rm -r media:tmp/
    """
    place = _source(context, target)
    if not recursive:
        _not_a_directory(place, target, "rm")

    async def work() -> int:
        try:
            if recursive:
                return await place.storage.delete_prefix(place.path)
            existed = await place.storage.exists(place.path)
            await place.storage.delete(place.path)
            return int(existed)
        finally:
            await _close(context)

    deleted = _run(work)
    _emit(
        context,
        {"deleted": deleted},
        lambda: None if context.obj.get("quiet") else click.echo(f"deleted {deleted}"),
    )


@cli.command("stat")
@click.argument("target")
@click.pass_context
def stat(context: click.Context, target: str) -> None:
    """Show a file's size, etag, content type, modification time and metadata.

    \b
    Example:
      bucketry --json stat gs://media/logo.png
    """
    place = _source(context, target)

    async def work() -> FileInfo:
        try:
            return await place.storage.stat(place.path)
        finally:
            await _close(context)

    info = _run(work)

    def text() -> None:
        for key, value in _info_dict(info).items():
            if key == "metadata":
                for meta_key, meta_value in value.items():
                    click.echo(f"{'metadata.' + meta_key:14} {meta_value}")
            elif value is not None:
                click.echo(f"{key:14} {value}")

    _emit(context, _info_dict(info), text)


@cli.command("url")
@click.argument("target")
@click.option("--expires", type=int, metavar="SECONDS", help="A signed URL valid this long.")
@click.option("--method", default="GET", show_default=True, help="What a signed URL allows.")
@click.pass_context
def url(context: click.Context, target: str, expires: int | None, method: str) -> None:
    """Print a file's public URL, or with --expires a signed one.

    \b
    Examples:
      bucketry url media:photos/a.jpg
      bucketry url --expires 600 s3://private/report.pdf
      bucketry url --expires 600 --method PUT azure://uploads/incoming.bin
    """
    place = _target(context, target)

    async def work() -> str:
        try:
            if expires is None:
                return place.storage.url(place.path)
            return await place.storage.signed_url(place.path, expires=expires, method=method)
        finally:
            await _close(context)

    address = _run(work)
    _emit(context, {"url": address}, lambda: click.echo(address))


@cli.command()
@click.pass_context
def backends(context: click.Context) -> None:
    """List the installed storage backends.

    \b
    Example:
      bucketry backends
    """
    entries = available_backends()
    payload = {name: entry.target for name, entry in entries.items()}

    def text() -> None:
        for name, entry in entries.items():
            click.echo(f"{name:12} {entry.target}  ({entry.distribution or 'unknown'})")

    _emit(context, payload, text)


_CHECK_MODULE = textwrap.dedent(
    '''
    """Generated by `bucketry check`: the contract suite against one configured backend."""
    import json
    import os

    import pytest

    from bucketry import load_backend
    from bucketry_conformance import StorageContract

    SPEC = json.loads(os.environ["{variable}"])


    class {class_name}(StorageContract):
        @pytest.fixture
        async def storage(self):
            backend = load_backend(SPEC["backend"]).from_options(SPEC["options"])
            async with backend as storage:
                yield storage
    '''
)


def _parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise click.UsageError(f"--option takes key=value, not {pair!r}.")
        options[key.strip()] = value
    return options


@cli.command()
@click.argument("backend")
@click.option(
    "--option",
    "-o",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A backend option, repeatable (e.g. -o bucket=media -o endpoint_url=http://...).",
)
@click.option(
    "-k", "keyword", default=None, help="Only run contract tests matching this pytest -k."
)
@click.option("-v", "--verbose", is_flag=True, help="List every contract test as it runs.")
def check(backend: str, pairs: tuple[str, ...], keyword: str | None, verbose: bool) -> None:
    """Run the conformance suite against BACKEND and print its contract table.

    Each test works under a fresh random prefix and removes what it wrote. A backend that needs a
    directory (``location``) and is given none gets a temporary one.

    \b
    Examples:
      bucketry check filesystem
      bucketry check memory
      bucketry check s3 -o bucket=test -o endpoint_url=http://127.0.0.1:9000
    """
    try:
        import pytest
    except ImportError:
        raise ConfigurationError(
            'bucketry check needs the conformance suite: pip install "bucketry[check]"'
        ) from None
    options = _parse_options(pairs)
    storage_class = load_backend(backend)
    with tempfile.TemporaryDirectory(prefix="bucketry-check-") as workdir:
        parameters = inspect.signature(storage_class.__init__).parameters
        location = parameters.get("location")
        if location is not None and location.default is inspect.Parameter.empty:
            options.setdefault("location", os.path.join(workdir, "storage"))
        _preflight(storage_class.from_options(options))  # one line, not a wall of failures
        # Hypothesis keeps its example database under the user's cache, not the working dir.
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        os.environ.setdefault(
            "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(cache, "bucketry", "hypothesis")
        )
        class_name = "Test" + "".join(part.capitalize() for part in backend.split("-")) + "Contract"
        module = Path(workdir, "test_bucketry_check.py")
        module.write_text(_CHECK_MODULE.format(variable=CHECK_ENVIRONMENT, class_name=class_name))
        os.environ[CHECK_ENVIRONMENT] = json.dumps({"backend": backend, "options": options})
        arguments = [
            str(module),
            "--rootdir",
            workdir,
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--tb=short",
            "-v" if verbose else "-q",
        ]
        if keyword:
            arguments += ["-k", keyword]
        code = pytest.main(arguments)
    sys.exit(0 if code == 0 else 1)


def _preflight(storage: Any) -> None:
    """One cheap request before the suite: an unreachable endpoint, refused credentials or a
    missing bucket is one line, not hundreds of failed tests, and the same error (so the same
    exit code) as any other command meeting that storage would give."""
    from bucketry.retry import RetryPolicy

    storage.retry = RetryPolicy(attempts=2, base_delay=0.1, deadline=15.0)

    async def reach() -> None:
        async with storage:
            await storage.exists("bucketry-check-preflight")

    try:
        asyncio.run(reach())
    except BucketryError as exc:
        raise type(exc)(
            f"bucketry check could not use the {type(storage).__name__} as configured: "
            f"{_one_line(exc)} Fix the options and run it again."
        ) from exc


def main() -> None:
    """Run the CLI, turning errors into one line and the documented exit codes."""
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if debug:
            traceback.print_exc()
        exc.show()
        sys.exit(2)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(1)  # `bucketry cat ... | head`: the reader left, nothing is wrong here
    except BucketryError as exc:
        if debug:  # the traceback too; the exit code stays the documented one
            traceback.print_exc()
        click.echo(f"bucketry: {type(exc).__name__}: {_one_line(exc)}", err=True)
        sys.exit(2 if isinstance(exc, ConfigurationError) else 1)
    except Exception as exc:
        # Not a bucketry error: a bug, or something no backend translated. Still one line (the
        # traceback is --debug's), scrubbed like every message, and a hint to report it.
        if debug:
            traceback.print_exc()
        click.echo(
            f"bucketry: unexpected {type(exc).__name__}: {_one_line(exc)} "
            "(run again with --debug for the traceback, and please report it)",
            err=True,
        )
        sys.exit(1)


def _one_line(exc: BaseException) -> str:
    return scrub(" ".join(str(exc).split()))
