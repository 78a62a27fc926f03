"""A deployment as users run it, on one machine: PostgreSQL as Airflow's metadata database, an S3 server
(moto) holding the staging and the ledger, the project's TD emulator, and Airflow's own processes
(api-server, scheduler, dag-processor, triggerer; LocalExecutor, or CeleryExecutor with Redis and two
workers). Everything binds 127.0.0.1 on free ports, and `Deployment.stop()` (also run at exit, on SIGTERM
and when the time budget runs out) ends every process it started.

PostgreSQL, the S3 server and Redis are `BackingServices`, which one test session starts once for the
deployments of both executors: each deployment gets its own metadata database, a copy of one database
`airflow db migrate` prepared once (a Postgres template), an S3 server emptied of the last deployment's
objects and Redis flushed, so it starts from what a fresh deployment has.

`python -m tests.deployment.harness up [--executor CeleryExecutor] [--minutes 60]` starts it and prints
the UI's address (`make deployment-up`).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from airflow_braze_td.demo import DAG_ID, DEMO_KEY
from airflow_braze_td.emulator import EmulatorProcess, start_emulator_process

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAGING_BUCKET = "braze-staging"
LEDGER_BUCKET = "braze-ledger"
AWS_CONN_ID = "braze_s3"
TD_CONN_ID = "treasure_data_default"
WORKER_NAME_VARIABLE = "BRAZE_TD_WORKER_NAME"
# Slow machines (2 cores shared with other work): Airflow's processes take tens of seconds to start.
START_TIMEOUT_SECONDS = 240.0
STOP_TIMEOUT_SECONDS = 10.0
# The database `airflow db migrate` prepares once; each deployment's metadata database is a copy of it.
TEMPLATE_DATABASE = "airflow_template"


def worker_hostname() -> str:
    """`[core] hostname_callable` of the harness: each worker reports its own name, so Airflow's task
    instance records tell the two Celery workers on this one machine apart."""
    return os.environ.get(WORKER_NAME_VARIABLE) or socket.getfqdn()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServiceExited(RuntimeError):
    """A service the deployment started has exited: waiting longer cannot help."""


def wait_for(what: str, check: Callable[[], Any], timeout: float = START_TIMEOUT_SECONDS, every: float = 1.0) -> Any:
    """Poll `check` until it returns something truthy; raise naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except ServiceExited:
            raise
        except Exception as error:  # a server still starting refuses connections or answers 5xx
            last_error = error
        else:
            if value:
                return value
        time.sleep(every)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s (last error: {last_error})")


@dataclass
class Service:
    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the process group: Airflow's processes have children."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def kill_at(self, deadline: float) -> None:
        """SIGKILL to whatever is left of the process group once `deadline` (`time.monotonic()`) has passed."""
        try:
            self.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()


def stop_services(services: list[Service]) -> None:
    """SIGTERM to every service at once, then SIGKILL to those still running after one shared grace period.
    One service after the other, the grace periods added up: 18 s to stop the Celery deployment."""
    for service in services:
        service.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for service in services:
        service.kill_at(deadline)


def _spawn(workdir: Path, services: list[Service], name: str, command: list[str], env: dict[str, str],
           user: str | None = None) -> Service:
    """`command` in its own process group, its output in `workdir/logs/<name>.log`, added to `services`."""
    log = workdir / "logs" / f"{name}.log"
    if user is not None and os.geteuid() == 0:
        command = ["runuser", "-u", user, "--", *command]
    with log.open("ab") as out:
        popen = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                 cwd=workdir)
    service = Service(name, popen, log)
    services.append(service)
    return service


def _remove_workdir(workdir: Path) -> None:
    if os.environ.get("BRAZE_TD_KEEP_DEPLOYMENT") != "1":
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class BackingServices:
    """PostgreSQL, the S3 server and Redis: what a deployment keeps its state in, started once for every
    deployment of a test session (each start costs seconds of a 2-core machine, the migration half a minute)."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="braze-td-backing-")))
    services: list[Service] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    template_ready: bool = False
    _stopped: bool = False

    def start(self) -> BackingServices:
        atexit.register(self.stop)
        for name in ("postgres", "redis", "s3"):
            self.ports[name] = free_port()
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self._start_postgres()
        self._start_s3()
        self._start_redis()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        stop_services(self.services)
        _remove_workdir(self.workdir)

    def database_url(self, database: str) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.ports['postgres']}/{database}"

    def create_database(self, database: str, template: str | None = None) -> None:
        """A new database, empty or a copy of `template`. Postgres copies a template only once nothing is
        connected to it, so a copy is tried again while the migration's connections are still closing."""
        command = [str(_postgres_bin() / "createdb"), "-h", "127.0.0.1", "-p", str(self.ports["postgres"]),
                   "-U", "airflow", *(["-T", template] if template else []), database]
        wait_for(f"database {database}", lambda: subprocess.run(command, check=True, capture_output=True,
                                                                timeout=120), timeout=60)

    def reset(self) -> None:
        """What the last deployment left, gone: S3 emptied of every bucket (then the two buckets again) and
        Redis flushed."""
        requests.post(f"{self.s3_url}/moto-api/reset", timeout=30).raise_for_status()
        self._create_buckets()
        self._redis_command(b"FLUSHALL\r\n", b"+OK")

    def _start_postgres(self) -> None:
        """PostgreSQL from Debian's package, in a throw-away cluster; as root, it runs as `postgres`."""
        pg_bin = _postgres_bin()
        data = self.workdir / "pg"
        data.mkdir()
        user = "postgres" if os.geteuid() == 0 else None
        if user:
            account = pwd.getpwnam(user)
            os.chown(data, account.pw_uid, account.pw_gid)
            os.chmod(self.workdir, 0o755)
        initdb = [str(pg_bin / "initdb"), "-D", str(data), "-U", "airflow", "--auth=trust", "-E", "UTF8"]
        if user:
            initdb = ["runuser", "-u", user, "--", *initdb]
        with (self.workdir / "logs" / "initdb.log").open("wb") as out:
            subprocess.run(initdb, check=True, stdout=out, stderr=subprocess.STDOUT, timeout=120)
        port = str(self.ports["postgres"])
        _spawn(self.workdir, self.services, "postgres", [
            str(pg_bin / "postgres"), "-D", str(data), "-p", port, "-c", "listen_addresses=127.0.0.1",
            "-k", str(data), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ], env=dict(os.environ), user=user)
        ready = [str(pg_bin / "pg_isready"), "-h", "127.0.0.1", "-p", port, "-U", "airflow"]
        wait_for("postgres", lambda: subprocess.run(ready, capture_output=True).returncode == 0, timeout=60)

    def _start_s3(self) -> None:
        port = self.ports["s3"]
        _spawn(self.workdir, self.services, "s3", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
               env=dict(os.environ))
        wait_for("moto", lambda: requests.get(f"{self.s3_url}/moto-api/", timeout=2).ok, timeout=60)
        self._create_buckets()

    def _create_buckets(self) -> None:
        for bucket in (STAGING_BUCKET, LEDGER_BUCKET):
            self.s3_client().create_bucket(Bucket=bucket)

    def _start_redis(self) -> None:
        port = str(self.ports["redis"])
        _spawn(self.workdir, self.services, "redis", [
            shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "",
            "--appendonly", "no", "--dir", str(self.workdir),
        ], env=dict(os.environ))
        wait_for("redis", lambda: self._redis_command(b"PING\r\n", b"+PONG"), timeout=30)

    def _redis_command(self, command: bytes, answer: bytes) -> bool:
        with socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=5) as conn:
            conn.sendall(command)
            if not conn.recv(64).startswith(answer):
                raise RuntimeError(f"redis did not answer {answer!r} to {command!r}")
            return True

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def s3_client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@dataclass
class Deployment:
    """The whole deployment; `start()` brings it up, `stop()` takes it all down. Given `backing`, it keeps its
    state there (and leaves those services running); otherwise it starts its own."""

    executor: str = "LocalExecutor"
    backing: BackingServices | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="braze-td-deploy-")))
    services: list[Service] = field(default_factory=list)
    emulator: EmulatorProcess | None = None
    ports: dict[str, int] = field(default_factory=dict)
    _own_backing: bool = False
    _token: str | None = None
    _stopped: bool = False

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> Deployment:
        atexit.register(self.stop)
        for name in ("api", "scheduler_logs", "triggerer_logs"):
            self.ports[name] = free_port()
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        if self.backing is None:
            self.backing, self._own_backing = BackingServices(), True
            self.backing.start()
        else:
            self.backing.reset()
        self.emulator = start_emulator_process(store=str(self.workdir / "td.sqlite"), api_keys=[DEMO_KEY])
        self._create_metadata_database()
        self._start_airflow_processes()
        self.create_connections()
        self.timings = {"start_seconds": round(time.monotonic() - started, 1)}
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        stop_services(self.services)
        if self.emulator is not None:
            self.emulator.stop()
        if self._own_backing and self.backing is not None:
            self.backing.stop()
        _remove_workdir(self.workdir)

    @property
    def database(self) -> str:
        return f"airflow_{self.executor.removesuffix('Executor').lower()}"

    def _create_metadata_database(self) -> None:
        """This deployment's metadata database: a copy of the template `airflow db migrate` prepared (migrated
        first if this is the backing services' first deployment)."""
        if not self.backing.template_ready:
            self.backing.create_database(TEMPLATE_DATABASE)
            self._airflow(["db", "migrate"], database=TEMPLATE_DATABASE)
            self.backing.template_ready = True
        self.backing.create_database(self.database, template=TEMPLATE_DATABASE)

    def stop_after(self, seconds: float) -> threading.Timer:
        """A watchdog: whatever happens to the caller, nothing outlives `seconds`."""
        timer = threading.Timer(seconds, self._out_of_time)
        timer.daemon = True
        timer.start()
        return timer

    def _out_of_time(self) -> None:
        print(f"deployment harness: time budget spent, stopping everything in {self.workdir}", file=sys.stderr)
        self.stop()
        if self.backing is not None:
            self.backing.stop()  # shared or not: os._exit runs no atexit handler
        os._exit(3)

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Service:
        return _spawn(self.workdir, self.services, name, command, env or self.env())

    def all_services(self) -> list[Service]:
        """This deployment's processes and the backing services it keeps its state in."""
        return [*(self.backing.services if self.backing else []), *self.services]

    def log_tails(self, lines: int = 12) -> str:
        """The last lines of the logs of the services that exited (of all, if none did), for a failed start."""
        dead = [service.log for service in self.all_services() if not service.alive()]
        workdirs = [self.workdir, *([self.backing.workdir] if self.backing else [])]
        tails = []
        for log in dead or sorted(log for workdir in workdirs for log in (workdir / "logs").glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(tails)

    def service(self, name: str) -> Service:
        return next(service for service in self.services if service.name == name)

    # -- backing services -------------------------------------------------------------------------------------

    @property
    def s3_url(self) -> str:
        return self.backing.s3_url

    def s3_client(self):
        return self.backing.s3_client()

    def s3_storage_options(self) -> dict:
        """fsspec options for the test process's own reads and writes of the buckets."""
        return {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": self.s3_url,
                                                                          "region_name": "us-east-1"}}

    # -- Airflow ----------------------------------------------------------------------------------------------

    def env(self, database: str | None = None, **extra: str) -> dict[str, str]:
        """Every Airflow process's environment (its metadata database this deployment's unless `database` is
        named). No AWS variables: S3 is reached only through the `aws` connection the DAG's params name, as on a
        machine without ambient credentials."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "AIRFLOW"))}
        api = f"http://127.0.0.1:{self.ports['api']}"
        database = self.backing.database_url(database or self.database)
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
            AIRFLOW_HOME=str(self.workdir / "airflow"),
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR=self.executor,
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{api}/execution/",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__CORE__HOSTNAME_CALLABLE="tests.deployment.harness.worker_hostname",
            AIRFLOW__CORE__FERNET_KEY="jN1Xc1-mVYUgYv3Sbv0dJEn0fsmzNaIlIx9c5BrLmB0=",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=database,
            AIRFLOW__API__BASE_URL=api,
            AIRFLOW__API__SECRET_KEY="braze-td-deployment-harness",
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__API_AUTH__JWT_SECRET="braze-td-deployment-harness-jwt-secret-0123456789",
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(self.ports["scheduler_logs"]),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(self.ports["triggerer_logs"]),
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="5",
            AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.5",
            AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE="True",
            AIRFLOW__CELERY__BROKER_URL=f"redis://127.0.0.1:{self.backing.ports['redis']}/0",
            AIRFLOW__CELERY__RESULT_BACKEND=f"db+{database}",
            AIRFLOW__CELERY__WORKER_CONCURRENCY="1",
            BRAZE_TD_STAGING_URL=f"s3://{STAGING_BUCKET}/scheduled",
            BRAZE_TD_LEDGER_URL=f"s3://{LEDGER_BUCKET}/scheduled",
            BRAZE_TD_STAGING_CONN_ID=AWS_CONN_ID,
            BRAZE_TD_LEDGER_CONN_ID=AWS_CONN_ID,
            BRAZE_TD_RETRY_DELAY_SECONDS="5",
            BRAZE_TD_LAG_POKE_SECONDS="10",
        )
        env.update(extra)
        return env

    def _airflow(self, args: list[str], database: str | None = None, timeout: float = 600) -> None:
        with (self.workdir / "logs" / f"airflow-{args[0]}.log").open("ab") as out:
            subprocess.run([str(BIN / "airflow"), *args], env=self.env(database), check=True, stdout=out,
                           stderr=subprocess.STDOUT, timeout=timeout)

    def _start_airflow_processes(self) -> None:
        airflow = str(BIN / "airflow")
        self._spawn("api-server", [airflow, "api-server", "-H", "127.0.0.1", "-p", str(self.ports["api"])])
        self._spawn("dag-processor", [airflow, "dag-processor"])
        self._spawn("triggerer", [airflow, "triggerer"])
        self.start_scheduler()
        wait_for("api-server", lambda: requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).ok)
        wait_for("the example DAG's parsing", lambda: self.api("GET", f"/api/v2/dags/{DAG_ID}").get("dag_id"))
        wait_for("scheduler and triggerer heartbeats", self._healthy)

    def start_scheduler(self) -> None:
        """The scheduler and, with CeleryExecutor, two workers named worker-1 and worker-2."""
        airflow = str(BIN / "airflow")
        self._spawn("scheduler", [airflow, "scheduler"])
        if self.executor == "CeleryExecutor":
            for number in (1, 2):
                self.start_worker(number)

    def start_worker(self, number: int) -> Service:
        name = f"worker-{number}"
        env = self.env(**{
            WORKER_NAME_VARIABLE: name,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        })
        return self._spawn(name, [str(BIN / "airflow"), "celery", "worker", "--celery-hostname", f"{name}@%h",
                                  "--concurrency", "1"], env=env)

    def stop_service(self, name: str) -> None:
        service = self.service(name)
        stop_services([service])
        self.services.remove(service)

    def require_alive(self) -> None:
        dead = [service.name for service in self.all_services() if not service.alive()]
        if dead:
            raise ServiceExited(f"exited: {', '.join(dead)} (logs in {self.workdir / 'logs'})")

    def _healthy(self) -> bool:
        self.require_alive()
        health = requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).json()
        return all(health.get(part, {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    def token(self) -> str:
        if self._token is None:
            answer = requests.get(f"{self.api_url}/auth/token", timeout=30)
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One call of Airflow's REST API, as the UI makes it (a bearer token from /auth/token)."""
        answer = requests.request(
            method, f"{self.api_url}{path}", json=body, params=params or None, timeout=60,
            headers={"Authorization": f"Bearer {self.token()}"},
        )
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path} answered {answer.status_code}: {answer.text[:500]}")
        return answer.json() if answer.content else None

    # -- DAG runs, as the UI drives them --------------------------------------------------------------------

    def dag_path(self, suffix: str = "") -> str:
        return f"/api/v2/dags/{DAG_ID}{suffix}"

    def set_paused(self, paused: bool) -> None:
        self.api("PATCH", self.dag_path(), {"is_paused": paused})

    def trigger(self, conf: dict) -> str:
        """A manual run (the UI's "Trigger" with a conf); its data interval ends now."""
        return self.api("POST", self.dag_path("/dagRuns"), {"logical_date": None, "conf": conf})["dag_run_id"]

    def run(self, run_id: str) -> dict:
        return self.api("GET", self.dag_path(f"/dagRuns/{run_id}"))

    def wait_finished(self, run_id: str, timeout: float = 300.0) -> dict:
        """The run once it succeeded or failed; a timeout names its task instances' states."""
        def finished() -> dict | None:
            run = self.run(run_id)
            return run if run["state"] in ("success", "failed") else None

        try:
            return wait_for(f"run {run_id}", finished, timeout=timeout, every=2.0)
        except TimeoutError as error:
            tasks = [(ti["task_id"], ti["map_index"], ti["state"], ti["try_number"])
                     for ti in self.task_instances(run_id)]
            raise TimeoutError(f"{error}; task instances: {tasks}") from None

    def task_instances(self, run_id: str) -> list[dict]:
        return self.api("GET", self.dag_path(f"/dagRuns/{run_id}/taskInstances"), limit=1000)["task_instances"]

    def clear(self, run_id: str) -> None:
        """The UI's "Clear" of a whole run: every task instance runs again."""
        self.api("POST", self.dag_path("/clearTaskInstances"), {
            "dag_run_id": run_id, "dry_run": False, "only_failed": False, "reset_dag_runs": True,
        })

    def screenshot(self, url_path: str, out: Path) -> Path:
        """A PNG of one UI page, as a person sees it, by Debian's headless Chromium (a fresh profile)."""
        chromium = shutil.which("chromium")
        if chromium is None:
            raise FileNotFoundError("Debian's chromium is not installed: apt-get install -y chromium")
        with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
            subprocess.run([
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--window-size=1280,720", "--virtual-time-budget=20000",
                "--hide-scrollbars", f"--screenshot={out}", f"{self.api_url}{url_path}",
            ], check=True, capture_output=True, timeout=120)
        return out

    def create_connections(self, td_key: str = DEMO_KEY) -> None:
        """The connections a user creates: an `aws` one for staging and ledger, and Treasure Data."""
        self.put_connection({
            "connection_id": AWS_CONN_ID, "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": json.dumps({"endpoint_url": self.s3_url, "region_name": "us-east-1"}),
        })
        self.put_connection({
            "connection_id": TD_CONN_ID, "conn_type": "treasure_data", "host": self.emulator.url,
            "password": td_key, "extra": json.dumps({"database": "braze"}),
        })

    def put_connection(self, connection: dict) -> None:
        existing = {item["connection_id"] for item in self.api("GET", "/api/v2/connections")["connections"]}
        if connection["connection_id"] in existing:
            self.api("PATCH", f"/api/v2/connections/{connection['connection_id']}", connection)
        else:
            self.api("POST", "/api/v2/connections", connection)


def _postgres_bin() -> Path:
    """The newest PostgreSQL of Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql")
    return versions[-1].parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--executor", default="LocalExecutor", choices=["LocalExecutor", "CeleryExecutor"])
    parser.add_argument("--minutes", type=float, default=60.0, help="stop by itself after this long")
    args = parser.parse_args(argv)
    deployment = Deployment(executor=args.executor)
    deployment.stop_after(args.minutes * 60)
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    try:
        deployment.start()
        print(f"Airflow UI: {deployment.api_url} (no login), executor {args.executor}", flush=True)
        print(f"S3 (moto): {deployment.s3_url}  TD emulator: {deployment.emulator.url}", flush=True)
        print(f"logs: {deployment.workdir / 'logs'}; Ctrl-C stops it (or after {args.minutes:g} min)", flush=True)
        while not stop_requested.wait(2):
            if not all(service.alive() for service in deployment.services):
                print("a service exited; stopping", file=sys.stderr)
                return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        deployment.stop()


if __name__ == "__main__":
    raise SystemExit(main())
