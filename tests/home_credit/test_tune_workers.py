"""tune.py workers: a killed worker's trial is failed by the heartbeat and retried, and several workers
share one study (SQLite; PostgreSQL started by the test) without repeating trials or overshooting
``--n-trials``."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from common.paths import runs_root
from competitions.home_credit import tune
from tests.home_credit.helpers import kit_roots  # noqa: F401  (fixture)
from tests.home_credit.test_tune import TUNE_FAST
from tests.tune_workers import finish, gated_tune, start_together, start_worker

pytestmark = pytest.mark.usefixtures("kit_roots")

STUDY = "home_credit_lgb"
HEARTBEAT = ["--heartbeat-interval", "1", "--grace-period", "2"]
# A worker process: the real command line, with three test hooks. HANG_MARKER: its first LightGBM fit
# announces itself in that file and hangs (a trial "running" when the test kills the process).
# FIT_SLEEP: each fit takes that much longer (so two workers' trials overlap). START_GATE: it waits,
# imports done, until that file exists (so two workers start together). Each trial records the pid.
WORKER = """
import os, sys, time
from common.tabular import lgbm, tune as study
marker, real_fit, real_objective = os.environ.get("HANG_MARKER"), lgbm.fit, study.make_objective
def fit(*args, **kwargs):
    if marker and not os.path.exists(marker):
        with open(marker, "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(600)
    time.sleep(float(os.environ.get("FIT_SLEEP", 0)))
    return real_fit(*args, **kwargs)
def make_objective(*args, **kwargs):
    objective = real_objective(*args, **kwargs)
    def tagged(trial):
        trial.set_user_attr("pid", os.getpid())
        return objective(trial)
    return tagged
lgbm.fit, study.make_objective = fit, make_objective
""" + gated_tune("home_credit")


def _args(data: Path, name: str, n_trials: int, *extra: str) -> list[str]:
    return ["--data", str(data), "--name", name, *TUNE_FAST, *HEARTBEAT, "--n-trials", str(n_trials), *extra]


def _trials(storage: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=STUDY, storage=storage).trials


@pytest.mark.slow
def test_killed_worker_trial_is_failed_and_retried(home_credit_data, tmp_path):
    tune.main(_args(home_credit_data, "killed", 1))  # builds the features once, outside the timed part
    marker = tmp_path / "hanging"
    proc = start_worker(WORKER, _args(home_credit_data, "killed", 3), HANG_MARKER=str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the worker never started its trial"
        time.sleep(0.2)
    storage = f"sqlite:///{runs_root() / 'home_credit' / 'killed' / 'study.db'}"
    running = [t for t in _trials(storage) if t.state == TrialState.RUNNING]
    assert len(running) == 1
    killed = running[0]
    time.sleep(1.5)  # at least one heartbeat recorded
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    best_before = (runs_root() / "home_credit" / "killed" / "best_params.yaml").read_text()
    assert [t.state for t in _trials(storage)] == [TrialState.COMPLETE, TrialState.RUNNING]  # left behind

    time.sleep(2.5)  # past the grace period: the dead worker's trial is stale
    result = tune.main(_args(home_credit_data, "killed", 3))
    trials = _trials(storage)
    by_number = {t.number: t for t in trials}
    assert by_number[killed.number].state == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retried[0].params == killed.params
    assert retried[0].system_attrs["retry_history"] == [killed.number]
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 3 == result["finished_trials"]  # --n-trials counts the whole study's
    assert yaml.safe_load(best_before)["finished_trials"] == 1  # the earlier result was kept until then


def _two_workers(data: Path, name: str, n_trials: int, gate: Path, *extra: str) -> list[str]:
    """Two workers started together on one study, their trials slowed so that they overlap."""
    procs = [start_worker(WORKER, _args(data, name, n_trials, *extra), FIT_SLEEP="0.3", START_GATE=str(gate))
             for _ in range(2)]
    start_together(procs, gate)
    return [finish(p) for p in procs]


def _check_shared_study(storage: str, n_trials: int) -> None:
    trials = _trials(storage)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == n_trials, [(t.number, t.state) for t in trials]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    params = [tuple(sorted(t.params.items())) for t in finished]
    assert len(set(params)) == len(params), "two trials ran the same parameters"
    workers = {t.user_attrs["pid"] for t in finished if "pid" in t.user_attrs}
    assert len(workers) == 2, "one worker ran every trial: the test did not exercise sharing"


@pytest.mark.slow
def test_two_workers_share_a_sqlite_study(home_credit_data, tmp_path):
    tune.main(_args(home_credit_data, "pair", 1))  # features built once before the workers race
    _two_workers(home_credit_data, "pair", 6, tmp_path / "go")
    _check_shared_study(f"sqlite:///{runs_root() / 'home_credit' / 'pair' / 'study.db'}", 6)
    best = yaml.safe_load((runs_root() / "home_credit" / "pair" / "best_params.yaml").read_text())
    assert best["finished_trials"] == 6


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres_url():
    """A throw-away PostgreSQL server on a free localhost port (run as user postgres when we are root)."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run tries it)")
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="kit-pg-"))
    if os.geteuid() == 0:  # postgres refuses to run as root
        runuser = shutil.which("runuser")
        try:
            import pwd
            user = pwd.getpwnam("postgres")
        except KeyError:
            user = None
        if runuser is None or user is None:
            shutil.rmtree(folder)
            pytest.skip("running as root without a 'postgres' system user or runuser to start PostgreSQL")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = [runuser, "-u", "postgres", "--"]
    data, port = folder / "db", _free_port()

    def pg(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True, timeout=120)

    try:
        pg(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "kit", "--no-sync")
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log.txt"), "-w", "-t", "60", "-o",
           f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    except subprocess.CalledProcessError as err:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL is installed but did not start: {err.stderr or err.stdout}")
    try:
        pg(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "kit", "optuna")
        yield f"postgresql://kit@127.0.0.1:{port}/optuna"  # as a user types it: the driver comes with the kit
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_a_postgres_study(home_credit_data, postgres_url, tmp_path):
    tune.main(_args(home_credit_data, "pg", 1, "--storage", postgres_url))
    _two_workers(home_credit_data, "pg", 6, tmp_path / "go", "--storage", postgres_url)
    _check_shared_study(postgres_url, 6)
    assert not (runs_root() / "home_credit" / "pg" / "study.db").exists()
