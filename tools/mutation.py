"""Seed one bug at a time into a backend or core, and see whether the contract suite notices.

    python3 -m uv run python tools/mutation.py            # every target, 2 workers
    python3 -m uv run python tools/mutation.py --target memory --limit 40

A *mutant* is the source with one small change of behaviour: a comparison turned around
(``<`` to ``<=``, ``in`` to ``not in``), ``and`` for ``or``, a condition negated, a number off by
one, ``True`` for ``False``, ``+`` for ``-``, ``break`` for ``continue``, or a statement that calls
something (``os.unlink(...)``, ``await self._delete(...)``) removed. Docstrings, error messages,
``repr`` and type annotations are left alone: changing them changes no behaviour the contract
speaks of.

Each mutant runs the contract suite *alone* (``tests/test_contract_builtin.py``, the run a
third-party author relies on), stopping at the first failure. It is *killed* when the suite fails
or hangs past the timeout, and *survives* when the suite passes. A survivor is then run against the
backend's own tests, which tells a gap in the contract (nothing notices) from behaviour outside the
contract (options, ``path()``, permissions: the backend's own tests notice).

Mutants run in copies of the packages put first on ``PYTHONPATH``, so the working tree is never
changed and workers do not share files; bytecode is not written, so no stale ``.pyc`` can stand in
for a mutant of the same size. The report is printed and written to ``.cache/mutation.md``.

A survivor that has been read and explained is listed in ``tools/mutation-reviewed.toml`` (matched
by target, function, source line and change, so moved lines keep their review, and by occurrence
where one function has the same line twice): *equivalent* (no caller can
tell), *fault* (it differs only under a race, an OS fault or a power cut that no contract test can
stage), or *cloud* (only a backend that signs URLs or resumes whole reads reaches it: the cloud
backends, whose contract runs need the emulators). The figure the report ends with is the share of
behaviour-changing mutants within the suite's reach that it kills: killed, out of killed, fault
and unexplained survivors. Review entries that no longer match a survivor are listed, so the file
cannot keep excusing a mutant the suite now kills or that no longer exists.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "bucketry": ROOT / "core/src/bucketry",
    "bucketry_memory": ROOT / "plugins/memory/src/bucketry_memory",
    "bucketry_filesystem": ROOT / "plugins/filesystem/src/bucketry_filesystem",
}
CONTRACT = "tests/test_contract_builtin.py"
REVIEWED = ROOT / "tools" / "mutation-reviewed.toml"
REVIEW_KINDS = ("equivalent", "fault", "cloud")
OUTCOMES = ROOT / ".cache" / "mutation.json"
"""The last run's outcomes, before reviews: ``--report`` applies the reviews to them again."""


@dataclass(frozen=True)
class Target:
    name: str
    package: str
    module: str  # the file, relative to its package
    contract: str  # -k expression selecting the contract runs that exercise it
    own_tests: list[str]


# The 100,000-entry listing test (25 s) is left out: a mutant only it would notice is counted as
# a survivor, which understates the suite rather than flatters it.
FILESYSTEM_OWN_TESTS = [
    "tests/test_filesystem.py",
    "tests/test_filesystem_race.py",
    "-k",
    "not large_directory",
]

TARGETS = [
    Target(
        "memory", "bucketry_memory", "storage.py", "TestMemoryContract", ["tests/test_memory.py"]
    ),
    Target(
        "filesystem",
        "bucketry_filesystem",
        "storage.py",
        "TestFileSystemContract",
        FILESYSTEM_OWN_TESTS,
    ),
    Target(
        "filesystem-beneath",
        "bucketry_filesystem",
        "beneath.py",
        "TestFileSystemContract",
        FILESYSTEM_OWN_TESTS,
    ),
    Target(
        "core-storage",
        "bucketry",
        "storage.py",
        "TestMinimalContract or TestMemoryContract",
        [
            "tests/test_config.py",
            "tests/test_retry.py",
            "tests/test_memory.py",
            "tests/test_storage_core.py",
            "tests/test_secrets.py",
        ],
    ),
    Target(
        "core-names",
        "bucketry",
        "names.py",
        "TestMinimalContract or TestMemoryContract",
        ["tests/test_names.py"],
    ),
    # The object-store engine every cloud backend is an adapter of, run on its in-memory adapter:
    # the contract alone first, then the lost-answer, damage and broken-read scenarios.
    Target(
        "engine",
        "bucketry",
        "objectstore/engine.py",
        "InMemoryObjectStoreContract",
        ["tests/test_objectstore_memory.py"],
    ),
]

# -- mutation operators -------------------------------------------------------------------------

_SWAPPED_COMPARISONS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SWAPPED_OPERATORS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
}
_UNTOUCHED_FUNCTIONS = {"__repr__", "_repr_options", "__init_subclass__"}


@dataclass
class Mutant:
    target: Target
    index: int  # the mutation point, in the order _points() finds them
    line: int
    description: str
    source: str = ""  # the mutated line as written, stripped
    function: str = ""  # the function it is in; with the line, what a review is matched by
    occurrence: int = 0  # how many mutants before it share its function, line and change
    outcome: str = ""
    killed_by: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _points(tree: ast.Module) -> Iterator[tuple[ast.AST, str, Callable[[], None]]]:
    """Every mutation point of ``tree``: the node, what the change is, and a function making it
    (in place, on this very tree)."""
    for node, parent in _walk_behaviour(tree):
        if isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                swapped = _SWAPPED_COMPARISONS.get(type(op))
                if swapped is not None:
                    yield (
                        node,
                        f"{type(op).__name__} -> {swapped.__name__}",
                        _setter(node.ops, position, swapped()),
                    )
        elif isinstance(node, ast.BoolOp):
            other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            change = f"{type(node.op).__name__} -> {type(other).__name__}"
            yield node, change, _attr(node, "op", other)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "not x -> x", _replace(parent, node, node.operand)
        elif isinstance(node, ast.BinOp) and type(node.op) in _SWAPPED_OPERATORS:
            swapped_op = _SWAPPED_OPERATORS[type(node.op)]()
            yield (
                node,
                f"{type(node.op).__name__} -> {type(swapped_op).__name__}",
                _attr(node, "op", swapped_op),
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield node, f"{node.value} -> {not node.value}", _attr(node, "value", not node.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, int):
            yield node, f"{node.value} -> {node.value + 1}", _attr(node, "value", node.value + 1)
        elif isinstance(node, (ast.If, ast.While)) and not isinstance(
            node.test, (ast.Compare, ast.UnaryOp, ast.BoolOp)
        ):
            negated = ast.UnaryOp(op=ast.Not(), operand=node.test)
            yield node, "condition negated", _attr(node, "test", negated)
        elif isinstance(node, ast.Break):
            yield node, "break -> continue", _replace(parent, node, ast.Continue())
        elif isinstance(node, ast.Continue):
            yield node, "continue -> break", _replace(parent, node, ast.Break())
        elif isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
            yield node, "call statement removed", _replace(parent, node, ast.Pass())
        elif isinstance(node, ast.AugAssign):
            yield node, "augmented assignment removed", _replace(parent, node, ast.Pass())


def _walk_behaviour(tree: ast.Module) -> Iterator[tuple[ast.AST, ast.AST]]:
    """(node, parent) for nodes inside function bodies, skipping what carries no behaviour:
    docstrings, annotations, ``raise`` and ``assert`` statements (messages), ``repr``."""

    def visit(node: ast.AST, inside_function: bool) -> Iterator[tuple[ast.AST, ast.AST]]:
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "decorator_list", "type_comment"):
                continue
            children = value if isinstance(value, list) else [value]
            for child in children:
                if not isinstance(child, ast.AST):
                    continue
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if child.name in _UNTOUCHED_FUNCTIONS:
                        continue
                    yield from visit(child, True)
                    continue
                if isinstance(child, (ast.Raise, ast.Assert, ast.JoinedStr)):
                    continue
                if _is_docstring(child):
                    continue
                if inside_function:
                    yield child, node
                yield from visit(child, inside_function)

    yield from visit(tree, False)


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _setter(items: list[ast.cmpop], position: int, value: ast.cmpop) -> Callable[[], None]:
    def apply() -> None:
        items[position] = value

    return apply


def _attr(node: ast.AST, name: str, value: object) -> Callable[[], None]:
    return lambda: setattr(node, name, value)


def _replace(parent: ast.AST, old: ast.AST, new: ast.AST) -> Callable[[], None]:
    def apply() -> None:
        for name, value in ast.iter_fields(parent):
            if isinstance(value, list):
                for position, item in enumerate(value):
                    if item is old:
                        value[position] = new
                        return
            elif value is old:
                setattr(parent, name, new)
                return
        raise LookupError("mutation point not found in its parent")

    return apply


def mutants_of(target: Target) -> list[Mutant]:
    source = (PACKAGES[target.package] / target.module).read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    mutants: list[Mutant] = []
    seen: dict[tuple[str, str, str], int] = {}
    for index, (node, description, _) in enumerate(_points(tree)):
        line = getattr(node, "lineno", 0)
        text, function = lines[line - 1].strip(), _function_at(tree, line)
        occurrence = seen.get((function, text, description), 0)
        seen[(function, text, description)] = occurrence + 1
        mutants.append(Mutant(target, index, line, description, text, function, occurrence))
    return mutants


def _function_at(tree: ast.Module, line: int) -> str:
    """The innermost function whose lines hold ``line``."""
    holding = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    return max(holding, key=lambda node: node.lineno).name if holding else ""


@dataclass(frozen=True)
class Review:
    target: str
    function: str
    line: str
    change: str
    kind: str
    why: str
    occurrence: int = 0  # for a line written twice in one function: which one

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        """As :func:`_key` spells a mutant's."""
        return (self.target, self.function, self.line, self.change, self.occurrence)


def load_reviews(path: Path = REVIEWED) -> list[Review]:
    entries = tomllib.loads(path.read_text())["mutant"] if path.exists() else []
    reviews = [Review(**entry) for entry in entries]
    for review in reviews:
        if review.kind not in REVIEW_KINDS:
            raise SystemExit(f"{path.name}: kind {review.kind!r} is not one of {REVIEW_KINDS}")
    return reviews


def _key(mutant: Mutant) -> tuple[str, str, str, str, int]:
    target, where = mutant.target.name, mutant.function
    return (target, where, mutant.source, mutant.description, mutant.occurrence)


def apply_reviews(mutants: list[Mutant], reviews: list[Review]) -> list[Review]:
    """Mark each reviewed survivor with its review's kind; return the reviews nothing matched."""
    by_key = {r.key: r for r in reviews}
    used = set()
    for mutant in mutants:
        key = _key(mutant)
        if mutant.outcome == "survived" and key in by_key:
            mutant.outcome = by_key[key].kind
            used.add(key)
    # Stale: the mutant is gone (its line changed), or it ran and did not survive. A review of a
    # mutant this run left out (a sample, --line) is neither.
    targets = {m.target.name: m.target for m in mutants}
    existing = {_key(m) for t in targets.values() for m in mutants_of(t)}
    ran = {_key(m) for m in mutants}
    return [
        r
        for key, r in by_key.items()
        if r.target in targets and key not in used and (key in ran or key not in existing)
    ]


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((PACKAGES[mutant.target.package] / mutant.target.module).read_text())
    for index, (_, _, apply) in enumerate(_points(tree)):
        if index == mutant.index:
            apply()
            return ast.unparse(ast.fix_missing_locations(tree))
    raise LookupError(f"no mutation point {mutant.index}")


# -- running ------------------------------------------------------------------------------------


class Worker:
    """A private copy of the packages, first on ``PYTHONPATH``, for one mutant at a time."""

    def __init__(self, number: int) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix=f"bucketry-mutation-{number}-"))
        self._process: subprocess.Popen[str] | None = None
        for package, source in PACKAGES.items():
            shutil.copytree(source, self.directory / package, ignore=_no_bytecode)

    def run(self, mutant: Mutant, timeouts: tuple[float, float]) -> None:
        module = self.directory / mutant.target.package / mutant.target.module
        original = (PACKAGES[mutant.target.package] / mutant.target.module).read_text()
        module.write_text(mutated_source(mutant))
        started = time.monotonic()
        try:
            failed = self._pytest([CONTRACT, "-k", mutant.target.contract], timeouts[0])
            if failed:
                mutant.outcome, mutant.killed_by = "killed", failed
            else:
                own = self._pytest(mutant.target.own_tests, timeouts[1])
                mutant.outcome = "outside the contract" if own else "survived"
                mutant.killed_by = own
        finally:
            module.write_text(original)
            mutant.seconds = time.monotonic() - started

    def _pytest(self, arguments: list[str], timeout: float) -> str:
        """The first failing test's id, ``"timeout"``, or ``""`` if everything passed."""
        environment = {
            **os.environ,
            "PYTHONPATH": str(self.directory),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p"]
        command += ["no:cacheprovider", "-p", "no:hypothesispytest", "-o", "addopts="]
        command += ["--no-header", "-rfE", *arguments]
        # A session of its own, so a hung mutant is stopped with everything it started, and
        # nothing outlives this run when it is itself stopped (see close()).
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._process = process
        try:
            stdout, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            return "timeout"
        finally:
            self._process = None
        result = subprocess.CompletedProcess(command, process.returncode, stdout, "")
        if result.returncode == 0:
            return ""
        for line in result.stdout.splitlines():
            # A test that failed, or whose fixtures did (a constructor the mutant broke); not a
            # module that failed to import ("ERROR tests/test_x.py", no test named).
            node = line.split(" ", 2)[1] if line.startswith(("FAILED ", "ERROR ")) else ""
            if "::" in node:
                return node.split("::", 1)[-1]
        # No test failed, yet pytest did not pass: it was interrupted, or could not collect or
        # start (a module the worker's copy lacks: the working tree changed during the run).
        # That is no verdict on the mutant; counting it as one once excused 15 survivors.
        raise RuntimeError(
            f"pytest exited {result.returncode} with no failing test; the working tree must "
            f"not change during a run:\n{result.stdout[-2000:]}"
        )

    def close(self) -> None:
        if self._process is not None:
            _stop(self._process)
        shutil.rmtree(self.directory, ignore_errors=True)


def _stop(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _no_bytecode(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]


def baseline_timeouts(targets: list[Target], ceiling: float) -> dict[str, tuple[float, float]]:
    """Run each target's suites once on the unmutated code: they must pass (a mutation run on a
    failing suite means nothing), and a mutant taking eight times as long has hung (a loop whose
    exit was mutated away)."""
    worker = Worker(99)
    timeouts: dict[str, tuple[float, float]] = {}
    try:
        for target in targets:
            limits = []
            for arguments in ([CONTRACT, "-k", target.contract], target.own_tests):
                started = time.monotonic()
                failed = worker._pytest(arguments, ceiling)
                if failed:
                    raise SystemExit(f"{target.name}: the unmutated code fails {failed}; fix it")
                limits.append(max(30.0, 8 * (time.monotonic() - started)))
            timeouts[target.name] = (limits[0], limits[1])
            print(
                f"  {target.name}: baseline passes; timeouts {limits[0]:.0f} s, {limits[1]:.0f} s"
            )
    finally:
        worker.close()
    return timeouts


def run(mutants: list[Mutant], workers: int, timeouts: dict[str, tuple[float, float]]) -> None:
    pool = [Worker(number) for number in range(workers)]
    free = list(pool)
    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as executor:
            pending: dict[concurrent.futures.Future[None], Worker] = {}
            finished_mutants: dict[concurrent.futures.Future[None], Mutant] = {}
            queue = list(mutants)
            done = 0
            while queue or pending:
                while queue and free:
                    worker = free.pop()
                    mutant = queue.pop(0)
                    future = executor.submit(worker.run, mutant, timeouts[mutant.target.name])
                    pending[future] = worker
                    finished_mutants[future] = mutant
                finished, _ = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in finished:
                    future.result()
                    free.append(pending.pop(future))
                    done += 1
                    print(f"  {done}/{len(mutants)} {_describe(finished_mutants.pop(future))}")
    finally:
        for worker in pool:
            worker.close()


def _by_index(mutant: Mutant) -> int:
    return mutant.index


def _describe(mutant: Mutant) -> str:
    where = f"{mutant.target.package}/{mutant.target.module}:{mutant.line}"
    by = f" by {mutant.killed_by}" if mutant.killed_by else ""
    return f"{where} {mutant.description}: {mutant.outcome}{by} ({mutant.seconds:.0f} s)"


_COLUMNS = ("killed", "outside the contract", "equivalent", "cloud", "fault", "survived")


def report(mutants: list[Mutant], elapsed: float, stale: list[Review]) -> str:
    lines = [
        "| target | mutants | killed by the contract | noticed only by own tests | equivalent "
        "| cloud only | fault only | unexplained survivors | kill rate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    totals = [0] * (len(_COLUMNS) + 1)
    for target in TARGETS:
        mine = [m for m in mutants if m.target is target]
        if not mine:
            continue
        counts = [len(mine), *(sum(m.outcome == c for m in mine) for c in _COLUMNS)]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        lines.append(_row(f"{target.package}/{target.module}", counts))
    lines.append(_row("**all**", totals))
    lines += [
        "",
        "Kill rate: of the mutants that change behaviour within the suite's reach (killed, fault",
        "only, unexplained), the share the contract suite alone kills. Left out: those only the",
        "backend's own tests notice (options, permissions, descriptors, links), equivalent ones",
        "and those only a cloud backend reaches (see tools/mutation-reviewed.toml).",
        f"Run time {elapsed / 60:.1f} min.",
        "",
        "Unexplained survivors (nothing notices them, and no review says why):",
        "",
    ]
    lines += [f"- {_describe(m)}" for m in mutants if m.outcome == "survived"]
    for kind in ("fault", "cloud", "equivalent"):
        lines += ["", f"Reviewed as {kind} only:" if kind != "equivalent" else "Equivalent:", ""]
        lines += [f"- {_describe(m)}" for m in mutants if m.outcome == kind]
    lines += ["", "Outside the contract (the backend's own tests notice):", ""]
    lines += [f"- {_describe(m)}" for m in mutants if m.outcome == "outside the contract"]
    if stale:
        lines += ["", "Reviews that match no survivor of this run (remove or update them):", ""]
        lines += [f"- {r.target} {r.function}: `{r.line}` {r.change} ({r.kind})" for r in stale]
    return "\n".join(lines) + "\n"


def _row(label: str, counts: list[int]) -> str:
    total, killed, outside, equivalent, cloud, fault, survived = counts
    reach = killed + fault + survived
    rate = f"{100 * killed / reach:.1f} %" if reach else "-"
    cells = [total, killed, outside, equivalent, cloud, fault, survived]
    return f"| {label} | {' | '.join(map(str, cells))} | {rate} |"


def main() -> None:
    # Stopped with SIGTERM, unwind (the workers' finally blocks stop their pytest runs).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", action="append", choices=[t.name for t in TARGETS])
    parser.add_argument("--limit", type=int, help="at most this many mutants per target")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0, help="for the baseline runs")
    parser.add_argument("--line", type=int, help="only mutants on this line (with one target)")
    parser.add_argument(
        "--sample",
        action="append",
        default=[],
        metavar="TARGET=N",
        help="a random sample of N mutants of TARGET (seeded: the same N mutants every time)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="no run: apply tools/mutation-reviewed.toml to the last run's outcomes again",
    )
    arguments = parser.parse_args()
    if arguments.report:
        write_report(*reload_outcomes())
        return
    chosen = [t for t in TARGETS if not arguments.target or t.name in arguments.target]
    mutants: list[Mutant] = []
    for target in chosen:
        found = mutants_of(target)
        if arguments.line is not None:
            found = [m for m in found if m.line == arguments.line]
        samples = dict(item.split("=", 1) for item in arguments.sample)
        if target.name in samples:
            size = min(int(samples[target.name]), len(found))
            found = sorted(random.Random(target.name).sample(found, size), key=_by_index)
        mutants += found[: arguments.limit] if arguments.limit else found
    print(f"{len(mutants)} mutants over {', '.join(t.name for t in chosen)}", flush=True)
    started = time.monotonic()
    timeouts = baseline_timeouts(chosen, arguments.timeout)
    run(mutants, arguments.workers, timeouts)
    elapsed = time.monotonic() - started
    OUTCOMES.parent.mkdir(exist_ok=True)
    saved = {"elapsed": elapsed, "sources": _sources(), "mutants": [_saved(m) for m in mutants]}
    OUTCOMES.write_text(json.dumps(saved))
    write_report(mutants, elapsed)


def _saved(mutant: Mutant) -> dict[str, object]:
    return {
        "target": mutant.target.name,
        "index": mutant.index,
        "outcome": mutant.outcome,
        "killed_by": mutant.killed_by,
        "seconds": mutant.seconds,
    }


def _sources() -> dict[str, str]:
    """Each target's source as a digest: a mutant is known by its index in that source."""
    return {
        t.name: hashlib.sha256((PACKAGES[t.package] / t.module).read_bytes()).hexdigest()
        for t in TARGETS
    }


def reload_outcomes() -> tuple[list[Mutant], float]:
    """The last run's mutants as they ran; refused once a target's source has changed, since
    the saved indexes would then name other mutants."""
    saved = json.loads(OUTCOMES.read_text())
    changed = [name for name, digest in _sources().items() if saved["sources"].get(name) != digest]
    if changed:
        raise SystemExit(f"{', '.join(changed)} changed since the last run; run it again.")
    by_name = {t.name: {m.index: m for m in mutants_of(t)} for t in TARGETS}
    mutants = []
    for entry in saved["mutants"]:
        mutant = by_name[entry["target"]][entry["index"]]
        mutant.outcome, mutant.killed_by = entry["outcome"], entry["killed_by"]
        mutant.seconds = entry["seconds"]
        mutants.append(mutant)
    return mutants, saved["elapsed"]


def write_report(mutants: list[Mutant], elapsed: float) -> None:
    stale = apply_reviews(mutants, load_reviews())
    text = report(mutants, elapsed, stale)
    print(text)
    (ROOT / ".cache" / "mutation.md").write_text(text)


if __name__ == "__main__":
    main()
