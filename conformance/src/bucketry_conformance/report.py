"""Tallying contract results by area: passed, failed, unsupported, known gaps."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

__all__ = ["OUTCOMES", "AreaReport", "ContractReport"]

OUTCOMES = ("passed", "failed", "unsupported", "expected-failure", "skipped")
"""``expected-failure`` is a known gap a backend marked ``xfail`` with its reason."""

UNSUPPORTED_PREFIX = "unsupported:"


@dataclass
class AreaReport:
    """How the tests of one contract area ended, for one suite (one ``StorageContract`` class)."""

    suite: str
    area: str
    counts: Counter[str] = field(default_factory=Counter)
    reasons: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``failed`` beats everything; an area with no passing test is ``unsupported``."""
        for outcome in ("failed", "passed", "expected-failure", "unsupported", "skipped"):
            if self.counts[outcome]:
                return outcome
        return "skipped"


class ContractReport:
    """Collects the outcome of every contract test; a pytest plugin object."""

    def __init__(self) -> None:
        self._areas: dict[str, tuple[str, str]] = {}
        self._outcomes: dict[str, tuple[str, str]] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Record the area of every selected contract test (deselected ones are not reported)."""
        for item in session.items:
            marker = item.get_closest_marker("bucketry_area")
            if marker is not None:
                owner = getattr(item, "cls", None)
                suite = owner.__name__ if owner is not None else item.path.stem
                self._areas[item.nodeid] = (suite, str(marker.args[0]))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self._areas:
            return
        outcome, reason = _classify(report)
        if outcome is None:
            return
        previous = self._outcomes.get(report.nodeid)
        if previous is None or previous[0] == "passed" or outcome == "failed":
            self._outcomes[report.nodeid] = (outcome, reason)

    @property
    def areas(self) -> list[AreaReport]:
        """One entry per suite and area, in the order they were first collected."""
        reports: dict[tuple[str, str], AreaReport] = {}
        for nodeid, key in self._areas.items():
            entry = reports.setdefault(key, AreaReport(*key))
            outcome, reason = self._outcomes.get(nodeid, ("skipped", "not run"))
            entry.counts[outcome] += 1
            if nodeid in self._outcomes and reason and reason not in entry.reasons:
                entry.reasons.append(reason)
        return list(reports.values())

    @property
    def failed(self) -> bool:
        return any(area.counts["failed"] for area in self.areas)

    def render(self) -> str:
        """A markdown table: area, verdict, and counts of each outcome."""
        lines = [
            "| suite | contract area | verdict | passed | failed | unsupported "
            "| expected failures |",
            "|---|---|---|---|---|---|---|",
        ]
        for entry in self.areas:
            counts = entry.counts
            lines.append(
                f"| {entry.suite} | {entry.area} | {entry.verdict} | {counts['passed']} "
                f"| {counts['failed']} | {counts['unsupported']} | {counts['expected-failure']} |"
            )
        notes = [
            f"- {entry.suite} / {entry.area}: {reason}"
            for entry in self.areas
            for reason in entry.reasons
            if entry.verdict != "passed" or not reason.startswith("failed")
        ]
        if notes:
            lines += ["", "Not passed, and why:", *notes]
        return "\n".join(lines)


def _classify(report: pytest.TestReport) -> tuple[str | None, str]:
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return "expected-failure", str(report.wasxfail) or "expected failure"
        return ("failed", "unexpectedly passed") if report.when == "call" else (None, "")
    if report.failed:
        return "failed", f"failed in {report.when}"
    if report.skipped:
        reason = _skip_reason(report)
        if reason.startswith(UNSUPPORTED_PREFIX):
            return "unsupported", reason[len(UNSUPPORTED_PREFIX) :].strip()
        return "skipped", reason
    if report.when == "call":
        return "passed", ""
    return None, ""


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
