"""Airflow provider that delivers Braze Currents staged exports to Treasure Data."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("airflow-provider-braze-td")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
