"""The suite serves backends that live outside this repository, and it catches broken ones."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import bucketry_conformance.example


def install_acme(site: Path) -> None:
    """Lay out an installed distribution by hand: module, metadata and entry point."""
    site.mkdir()
    (site / "acme_storage.py").write_text(Path(bucketry_conformance.example.__file__).read_text())
    dist_info = site / "acme_storage-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-storage\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[bucketry.backends]\nacme = acme_storage:MinimalStorage\n"
    )


def test_third_party_backend_is_found_by_name_and_runs_the_contract(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    install_acme(site)
    monkeypatch.setenv("PYTHONPATH", str(site))
    pytester.makepyfile(
        test_acme=textwrap.dedent(
            """
            import pytest
            from bucketry import available_backends, configure_storage, create_storage
            from bucketry_conformance import StorageContract


            def test_found_by_entry_point_name():
                assert available_backends()["acme"].distribution == "acme-storage"
                storage = configure_storage("acme", shelf="b")
                assert type(storage).__name__ == "MinimalStorage"
                assert create_storage("acme://?shelf=c").shelf == "c"


            class TestAcmeContract(StorageContract):
                @pytest.fixture
                async def storage(self):
                    async with create_storage("acme") as storage:
                        yield storage
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 60
    # No conditional create, metadata, URLs: reported as unsupported, never as passed.
    result.stdout.fnmatch_lines(["*TestAcmeContract | concurrency | passed | * | 0 | 2 | 0 |*"])
    result.stdout.fnmatch_lines(["*TestAcmeContract | metadata | unsupported | 0 | 0 | * | 0 |*"])
    result.stdout.fnmatch_lines(["*minimal does not declare 'signed-url'*"])


BROKEN_BACKEND = '''
from bucketry import Capability, NotFoundError
from bucketry_memory import MemoryStorage
from bucketry_memory.storage import _Blob


class BrokenStorage(MemoryStorage):
    """Claims everything, keeps little: the kind of backend the suite exists to catch."""

    backend_name = "broken"
    capabilities = frozenset(Capability)

    async def _write(self, name, chunks, options):
        # Bug: clobbers taken names instead of creating only if absent.
        data = b"".join([chunk async for chunk in chunks])
        self._blobs[name] = _Blob(data, "etag", options.content_type, dict(options.metadata))
        return name

    async def _scan(self, prefix, recursive):
        # Bug: a prefix is matched as a raw string, so "a/b" also lists "a/b_c/...".
        loose = prefix.rstrip("/")
        for name in sorted(self._blobs):
            if name.startswith(loose):
                yield self._blobs[name].info(name)

    async def _delete(self, name):
        # Bug: deleting a missing file is an error.
        if name not in self._blobs:
            raise NotFoundError(name)
        del self._blobs[name]

    async def _signed_url(self, name, expires, method):
        return "http://127.0.0.1:9/nothing-listens-here"

'''


def test_the_suite_fails_a_broken_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(broken_backend=BROKEN_BACKEND)
    pytester.makepyfile(
        test_broken=textwrap.dedent(
            """
            import pytest
            from bucketry_conformance import StorageContract
            from broken_backend import BrokenStorage


            class TestBrokenContract(StorageContract):
                @pytest.fixture
                async def storage(self):
                    async with BrokenStorage() as storage:
                        yield storage
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    failed = {line.split("::")[-1].split("[")[0] for line in result.outlines if "FAILED" in line}
    for test in (
        "test_taken_name_gets_random_alternative",
        "test_concurrent_saves_of_one_name_never_clobber",
        "test_prefix_boundaries_are_exact",
        "test_delete_is_idempotent",
        "test_signed_get_url_works_with_a_plain_http_client",
    ):
        assert test in failed, f"{test} should fail against the broken backend"
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*TestBrokenContract | listing | failed |*"])


def test_editable_installs_keep_assertion_rewriting() -> None:
    import bucketry_conformance.contract as contract

    assert "bucketry_conformance.contract" in sys.modules
    # pytest's rewriting hook marks rewritten modules' code objects with its own file name.
    assert getattr(contract, "@py_builtins", None) is not None


def test_known_gap_marks_a_copy_and_leaves_the_contract_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_gap=textwrap.dedent(
            """
            import pytest
            from bucketry_conformance import StorageContract, known_gap
            from bucketry_memory import MemoryStorage


            class TestWithGap(StorageContract):
                test_delete_is_idempotent = known_gap(
                    StorageContract.test_delete_is_idempotent, "this backend cannot, yet"
                )

                @pytest.fixture
                async def storage(self):
                    async with MemoryStorage() as storage:
                        yield storage


            class TestWithoutGap(StorageContract):
                @pytest.fixture
                async def storage(self):
                    async with MemoryStorage() as storage:
                        yield storage
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rx", "-k", "idempotent")
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*TestWithGap::test_delete_is_idempotent*this backend cannot*"])
    result.stdout.fnmatch_lines(["*TestWithGap | delete | expected-failure | 0 | 0 | 0 | 1 |*"])
    result.stdout.fnmatch_lines(["*TestWithoutGap | delete | passed | 1 | 0 | 0 | 0 |*"])
