# Two entry points for a fresh machine: `make demo` runs the whole job on the embedded default,
# `make test` runs the test suite on Airflow 3 and again on Airflow 2.11. Both build their venvs on first use.
#
# Installs go through uv at the versions kept in constraints/ (one resolution per Airflow line, in Airflow's
# constraints-file fashion). After changing dependencies in pyproject.toml (or adding an extra to EXTRAS),
# run `make lock` and commit constraints/.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
export UV_PYTHON_DOWNLOADS := never

# Extras every test venv installs, so each extra's providers run at their locked versions.
EXTRAS := dev,s3,gcs,azure,openlineage
comma := ,

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := constraints/airflow-3.txt

# Airflow 2.11 as its users install it: PyPI as it stood when Airflow cut constraints-2.11.2 (its first release
# candidate, 2026-03-09), which is how Airflow made its own constraints file for that release, and every direct
# dependency at its lower bound in pyproject.toml (so those bounds are the tested ones). Airflow 2.11.2 itself
# and the packages this project needs newer than that day are taken as of AIRFLOW2_NEWER_DATE.
VENV2 := .venv-airflow2
STAMP2 := $(VENV2)/.installed
LOCK2 := constraints/airflow-2.11.txt
AIRFLOW2_CONSTRAINTS_DATE := 2026-03-09T00:00:00Z
AIRFLOW2_NEWER := apache-airflow apache-airflow-providers-common-compat
AIRFLOW2_NEWER_DATE := 2026-12-06T00:00:00Z

.PHONY: demo test test-quick test-airflow3 test-airflow2 lock bench chaos clean deployment-test deployment-up

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet uv==$(UV_VERSION)

# A venv with the pip its Python ships, then uv installs the project and EXTRAS at the locked versions.
# Installs compile bytecode: where PYTHONDONTWRITEBYTECODE is set (it is on these machines), Python would
# otherwise compile every module it imports from source in every process (`import airflow.models`: 6.2 s
# against 2.0 s), and the suite starts hundreds of processes.
define install-venv
rm -rf $(@D)
$(PYTHON) -m venv $(@D)
$(UV) pip install --quiet --compile-bytecode --python $(@D)/bin/python -e '.[$(EXTRAS)]' --constraint $(word 2,$^)
touch $@
endef

$(STAMP): pyproject.toml $(LOCK) | $(UV)
	$(install-venv)

$(STAMP2): pyproject.toml $(LOCK2) | $(UV)
	$(install-venv)

# The deployment harness's extra (Celery, moto, Postgres drivers) on top of the Airflow 3 venv, through uv;
# what the lock holds stays at its locked version.
DEPLOY_STAMP := $(VENV)/.deploy-installed
EXECUTOR ?= LocalExecutor

$(DEPLOY_STAMP): $(STAMP) | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[$(EXTRAS),deploy]' --constraint $(LOCK)
	touch $@

demo: $(STAMP)
	$(BIN)/python -m airflow_braze_td.demo

# Both suites side by side, one per core (each is mostly one process at a time), and both run even when one
# fails; each one's output is printed whole when it ends. They share nothing: each keeps its own venv and
# AIRFLOW_HOME (Airflow 2 and 3 write different airflow.cfg files), pytest gives each its own numbered
# temporary folder, and every server they start binds a free port of 127.0.0.1. The venvs are built first,
# one after the other: both editable installs write the checkout's egg-info.
test: $(STAMP) $(STAMP2)
	$(MAKE) -j2 --output-sync=target --keep-going test-airflow3 test-airflow2

test-airflow3: $(STAMP)
	AIRFLOW_HOME=$(CURDIR)/$(VENV)/airflow-home $(BIN)/python -m pytest -q

# On Airflow 2.11 the chaos run and the core's benchmark smoke tests are left out: they exercise only the
# Airflow-free core, which the Airflow 3 suite runs, and took 4.5 of the 16 minutes (the core's unit tests still
# run here, against the lowest versions of its libraries).
AIRFLOW2_DESELECT := tests/reliability/test_chaos_ci.py::test_chaos_run_loses_nothing_and_bounds_duplicates \
	tests/test_benchmarks_smoke.py::test_throughput_quick_writes_every_figure \
	tests/test_benchmarks_smoke.py::test_dedupe_window_quick_writes_its_figures

test-airflow2: $(STAMP2)
	AIRFLOW_HOME=$(CURDIR)/$(VENV2)/airflow-home $(VENV2)/bin/python -m pytest -q \
		$(foreach test,$(AIRFLOW2_DESELECT),--deselect $(test))

# What a developer runs often (a few minutes): the Airflow 3 suite without its `airflow dags test` end-to-end
# runs and the chaos run, the slowest parts; the full `make test` before pushing.
test-quick: $(STAMP)
	AIRFLOW_HOME=$(CURDIR)/$(VENV)/airflow-home $(BIN)/python -m pytest -q --ignore=tests/e2e \
		--deselect tests/reliability/test_chaos_ci.py::test_chaos_run_loses_nothing_and_bounds_duplicates

LOCK_OPTIONS = --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--custom-compile-command 'make lock' $(foreach extra,$(subst $(comma), ,$(EXTRAS)),--extra $(extra))

# Re-resolve both locks from pyproject.toml. The Airflow 3 one keeps the versions it has where they still fit
# (delete it first to take the newest of everything); the Airflow 2.11 one is resolved afresh each time, the
# same for the same pyproject.toml thanks to its dates (a new dependency that needs a release newer than
# AIRFLOW2_CONSTRAINTS_DATE goes into AIRFLOW2_NEWER).
lock: | $(UV)
	echo 'apache-airflow>=3' | $(UV) pip compile $(LOCK_OPTIONS) pyproject.toml - -o $(LOCK)
	$(UV) pip compile $(LOCK_OPTIONS) pyproject.toml -o $(LOCK2) --upgrade --resolution lowest-direct \
		--exclude-newer $(AIRFLOW2_CONSTRAINTS_DATE) \
		$(foreach package,$(AIRFLOW2_NEWER),--exclude-newer-package $(package)=$(AIRFLOW2_NEWER_DATE))

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py --attempts 2 --json benchmarks/results/throughput.json

chaos: $(STAMP)
	$(BIN)/python benchmarks/chaos.py --json benchmarks/results/chaos.json

# Real Airflow processes on Postgres, staging and ledger on an S3 server, LocalExecutor then CeleryExecutor
# (needs Debian's postgresql and redis-server; chromium for the UI screenshot).
deployment-test: $(DEPLOY_STAMP)
	BRAZE_TD_DEPLOYMENT=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/deployment

# The same deployment left running to look at the UI (EXECUTOR=CeleryExecutor for Celery); stops after 60 min.
deployment-up: $(DEPLOY_STAMP)
	$(BIN)/python -m tests.deployment.harness up --executor $(EXECUTOR)

clean:
	rm -rf $(VENV) $(VENV2) .uv .demo
