"""Shared fixtures: real servers on 127.0.0.1, and the CI rule that nothing may skip.

Under CI (``CI=true``) a skip is a failure: a test that needs redis-server, nginx or Chromium
fails there when the component is missing, instead of passing unnoticed.
"""
from __future__ import annotations

import os
import shutil

import pytest

from rtlab import LabServer
from rtlab.tools import nginx
from rtlab.tools.redis import RedisServer

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a skip is a failure: a missing component must not pass unnoticed."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which must run everything: {reason}"


@pytest.fixture
def lab():
    """A fresh server for one test."""
    with LabServer() as server:
        yield server


@pytest.fixture(scope="module")
def shared_lab():
    """One server for a module whose tests don't disturb each other."""
    with LabServer() as server:
        yield server


@pytest.fixture(scope="module")
def redis_server():
    """A redis-server of the tests' own, on a free port, for one test module."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (apt-get install redis-server)")
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def nginx_available():
    """Skip (a failure under CI) when there is no nginx binary."""
    if not nginx.available():
        pytest.skip(f"needs nginx: {nginx.install_hint()}")
