"""The pytest plugin: markers, the event-loop choice, and the contract table in the summary.

Installed with ``bucketry-conformance`` (entry point ``pytest11``), so any project that subclasses
:class:`~bucketry_conformance.StorageContract` gets these without configuration.
"""

from __future__ import annotations

import pytest

from bucketry_conformance.report import ContractReport

_REPORT_KEY = pytest.StashKey[ContractReport]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bucketry_area(name): the contract area a conformance test belongs to"
    )
    config.addinivalue_line(
        "markers",
        "bucketry_requires(capability): run only where the backend declares the capability",
    )
    report = ContractReport()
    config.stash[_REPORT_KEY] = report
    config.pluginmanager.register(report, "bucketry-contract-report")


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Cloud SDKs run on asyncio, so the contract does too. Override it in a conftest if needed."""
    return "asyncio"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report = terminalreporter.config.stash.get(_REPORT_KEY, None)
    if report is None or not report.areas:
        return
    terminalreporter.write_sep("=", "bucketry contract")
    terminalreporter.write_line(report.render())
