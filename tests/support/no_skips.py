"""A pytest plugin that turns every skip into a failure when ``CI`` is true.

Loaded by the Makefile (``-p tests.support.no_skips``). In CI a skipped test means a service
or tool was missing and the suite silently tested less than it claims; that must fail the
build. Locally skips stay skips (and ``-ra`` lists them). ``xfail`` is not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

_TRUE = {"1", "true", "yes", "on"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in _TRUE


def _is_plain_skip(report: pytest.TestReport | pytest.CollectReport) -> bool:
    return report.skipped and not hasattr(report, "wasxfail")


class _NoSkips:
    def __init__(self) -> None:
        self.skipped: list[str] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, None]:
        outcome = yield
        report = outcome.get_result()
        if _is_plain_skip(report):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            self.skipped.append(item.nodeid)
            report.outcome = "failed"
            report.longrepr = f"skipped in CI (CI=true forbids skips): {reason}"

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, None]:
        outcome = yield
        report = outcome.get_result()
        if _is_plain_skip(report):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            self.skipped.append(collector.nodeid)
            report.outcome = "failed"
            report.longrepr = f"skipped in CI (CI=true forbids skips): {reason}"

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.skipped:
            terminalreporter.section("skips turned into failures (CI=true)", red=True)
            for nodeid in self.skipped:
                terminalreporter.line(nodeid)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # Belt and braces: whatever path a skip took, a run with skips does not pass in CI.
        if self.skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if _in_ci():
        config.pluginmanager.register(_NoSkips(), "fitdata-no-skips")
