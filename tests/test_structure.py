"""The package's dependency directions, read from every module's imports (parsed, not pattern-matched).

`delivery` owns the `Sink` protocol and never imports its Treasure Data implementation; the core packages
run without Airflow, which only the shells (hooks, operators, sensors, triggers) import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_braze_td"
CORE = ("currents", "delivery", "treasure_data", "emulator", "coerce.py", "identities.py")


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (functions and TYPE_CHECKING blocks included), as absolute
    dotted names; `from a import b` counts as importing `a` and `a.b`."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = ".".join(parts if parts[-1] == "__init__" else parts[:-1]).removesuffix(".__init__")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def modules_under(*names: str) -> list[Path]:
    paths: list[Path] = []
    for name in names:
        target = PACKAGE / name
        paths.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return paths


def imports_from(path: Path, package: str) -> list[str]:
    return sorted(name for name in imported_modules(path) if name == package or name.startswith(package + "."))


def test_the_parser_sees_every_form_of_import() -> None:
    assert "airflow_braze_td.delivery.sink" in imported_modules(PACKAGE / "delivery" / "pipeline.py")
    assert "airflow_braze_td.delivery.sink.EventEncodeError" in imported_modules(PACKAGE / "delivery" / "batching.py")
    assert imports_from(PACKAGE / "hooks" / "treasure_data.py", "airflow")
    assert imports_from(PACKAGE / "triggers" / "delivery_lag.py", "airflow_braze_td.delivery")


@pytest.mark.parametrize("path", modules_under("delivery"), ids=lambda path: path.name)
def test_delivery_never_imports_treasure_data(path: Path) -> None:
    assert imports_from(path, "airflow_braze_td.treasure_data") == []


@pytest.mark.parametrize("path", modules_under(*CORE), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_the_core_never_imports_airflow(path: Path) -> None:
    assert imports_from(path, "airflow") == []


def test_the_trigger_does_not_import_the_operator() -> None:
    assert imports_from(PACKAGE / "triggers" / "delivery_lag.py", "airflow_braze_td.operators") == []


def test_parsing_the_example_dag_does_not_import_polars(tmp_path: Path) -> None:
    """A DAG processor parses DAG files often; the columnar reader's Polars (about 0.3 s to import) is loaded
    by the task that reads files, not by parsing."""
    import os
    import subprocess
    import sys

    dag = PACKAGE.parent / "dags" / "braze_currents_to_treasure_data.py"
    code = f"import runpy, sys; runpy.run_path({str(dag)!r}); print('polars' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "AIRFLOW_HOME": str(tmp_path)})
    assert done.stdout.strip().splitlines()[-1] == "False"
