"""The deployment scenarios run only under `make deployment-test` (BRAZE_TD_DEPLOYMENT=1): they start
PostgreSQL, an S3 server, Redis and Airflow's own processes, which `make test` must not need.

One deployment is started per executor and shared by that executor's scenarios; both deployments keep their
state in one set of backing services (PostgreSQL, S3, Redis) started once. The figures each scenario measures
are written to `.deployment/figures.json` and printed at the end."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployment.harness import ROOT, BackingServices, Deployment

ENABLED = os.environ.get("BRAZE_TD_DEPLOYMENT") == "1"
EXECUTORS = os.environ.get("BRAZE_TD_DEPLOYMENT_EXECUTORS", "LocalExecutor,CeleryExecutor").split(",")
# Each executor's deployment (start, scenarios, stop) must end within this; the harness kills it otherwise.
BUDGET_SECONDS = float(os.environ.get("BRAZE_TD_DEPLOYMENT_BUDGET_SECONDS", "600"))
FIGURES = ROOT / ".deployment" / "figures.json"
_figures: dict[str, dict] = {}


def pytest_collection_modifyitems(config, items) -> None:
    if ENABLED:
        return
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="deployment scenarios: run them with `make deployment-test`")
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def backing() -> Iterator[BackingServices]:
    """PostgreSQL, S3 and Redis, once for both executors: each deployment gets a fresh metadata database (a
    copy of one migrated template), an emptied S3 and a flushed Redis."""
    services = BackingServices()
    try:
        services.start()
        yield services
    finally:
        services.stop()


@pytest.fixture(scope="session", params=EXECUTORS)
def deployment(request, backing: BackingServices) -> Iterator[Deployment]:
    deployment = Deployment(executor=request.param, backing=backing)
    watchdog = deployment.stop_after(BUDGET_SECONDS)
    try:
        try:
            deployment.start()
        except Exception as error:
            raise RuntimeError(f"the deployment did not start: {error}\n{deployment.log_tails()}") from error
        yield deployment
    finally:
        watchdog.cancel()
        deployment.stop()


@pytest.fixture(scope="session")
def figures(deployment: Deployment) -> dict:
    """This executor's measured figures (events, wall times, rows, duplicates), kept for the report."""
    return _figures.setdefault(deployment.executor, {"start_seconds": deployment.timings["start_seconds"]})


def pytest_terminal_summary(terminalreporter) -> None:
    if not _figures:
        return
    FIGURES.parent.mkdir(exist_ok=True)
    FIGURES.write_text(json.dumps(_figures, indent=2, sort_keys=True))
    terminalreporter.write_sep("-", f"deployment figures ({FIGURES.relative_to(ROOT)})")
    terminalreporter.write_line(json.dumps(_figures, indent=2, sort_keys=True))
