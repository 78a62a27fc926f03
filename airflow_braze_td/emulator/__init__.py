"""A local Treasure Data emulator: Postback, Import, Data Ingestion and control-plane endpoints on one
real HTTP server, with injectable failures. Tests, the demo and benchmarks run against it.
"""

from airflow_braze_td.emulator.faults import DEFAULT_CHAOS_KINDS, Fault
from airflow_braze_td.emulator.process import EmulatorProcess, start_emulator_process
from airflow_braze_td.emulator.server import Emulator, serve

__all__ = ["DEFAULT_CHAOS_KINDS", "Emulator", "EmulatorProcess", "Fault", "serve", "start_emulator_process"]
