"""The store under hostile conditions (issue 20, probes 5, 6, 8 and 14), replayed for good.

5: a save killed with SIGKILL is marked failed by the next command that opens the store.
6: a database that cannot be reached, named or written is one line and exit status 2,
   never a traceback, never the password or the SQL parameters.
8: the audit log cannot be rewritten by REPLACE on SQLite, nor by the application's role on
   PostgreSQL (an owner role runs the migrations, the app role only reads and appends).
14: absurd arguments (a 200-character actor, --limit 10**20) are refused with a clear line.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from db.audit import AuditTrail, append_audit, list_audit
from db.errors import (
    AppendOnlyError,
    BadUrlError,
    ConnectFailedError,
    InvalidValueError,
    OperationFailedError,
)
from db.heartbeat import STALE_REASON, Heartbeat, Owner
from db.migrate import upgrade
from db.models import AuditEntry, RunStatus, SimulationRun, utcnow
from db.runs import fail_stale_runs, list_runs, start_run
from db.session import make_engine, session_factory, sqlite_url, transaction
from hpc.workload.loading import load_workload
from hpc.workload.lublin import generate
from hpc.workload.swf import write_swf
from schedsight.cli import main
from schedsight.storage import Store, run_and_save
from tests.db.test_runs import spec_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reliability") / "small.swf"
    write_swf(generate(300, seed=3, procs=64), path)
    return path


@pytest.fixture(scope="module")
def long_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough to replay for seconds, so that it can be killed mid-run."""
    path = tmp_path_factory.mktemp("reliability") / "long.swf"
    write_swf(generate(60_000, seed=5, procs=256), path)
    return path


def schedsight(*args: str, url: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    env = {**os.environ, "SCHEDSIGHT_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "schedsight", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_error_line(err: str) -> str:
    """The one error line of a command's stderr (progress notes before it are fine)."""
    lines = err.strip().splitlines()
    assert all(line.startswith("schedsight: ") for line in lines), err
    assert [line.startswith("schedsight: error: ") for line in lines][-1:] == [True], err
    assert sum(line.startswith("schedsight: error: ") for line in lines) == 1, err
    assert "Traceback" not in err and "[SQL:" not in err and "[parameters:" not in err
    return lines[-1]


# ------------------------------------------------------------------ probe 5: killed runs


def test_a_save_killed_mid_run_is_failed_by_the_next_command(
    db_url: str,
    long_trace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    proc = schedsight("simulate", str(long_trace), "--save", url=db_url)
    try:
        deadline = time.monotonic() + 120
        running = None
        while running is None and proc.poll() is None and time.monotonic() < deadline:
            with engine.connect() as conn:
                running = conn.execute(
                    select(SimulationRun.id).where(SimulationRun.status == RunStatus.RUNNING)
                ).scalar()
            time.sleep(0.05)
        assert running is not None, f"the replay never showed as running: {proc.communicate()}"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", db_url)
    assert main(["runs", "list"]) == 0
    listing = capsys.readouterr().out
    row = next(line for line in listing.splitlines() if line.startswith(str(running)))
    assert " failed " in row and STALE_REASON in row

    assert main(["runs", "show", str(running)]) == 0
    shown = capsys.readouterr().out
    assert f"error: {STALE_REASON} (pid {proc.pid} on " in shown and "is gone" in shown
    engine.dispose()


def _stored_scenario(store: Store, trace: Path) -> int:
    loaded = load_workload(trace)
    return run_and_save(store, loaded, spec_for(loaded)).scenario_id


def test_a_run_on_another_machine_fails_only_once_its_heartbeat_stops(
    store: Store, small_trace: Path
) -> None:
    scenario_id = _stored_scenario(store, small_trace)
    elsewhere = Owner(host="node-17", pid=os.getpid(), instance="another-kernel/pid:[1]")
    with transaction(store.sessions) as session:
        quiet = start_run(session, scenario_id=scenario_id, owner=elsewhere)
        quiet.heartbeat_at = utcnow() - timedelta(seconds=120)
        beating = start_run(session, scenario_id=scenario_id, owner=elsewhere)
        beating.heartbeat_at = utcnow() - timedelta(seconds=10)
        quiet_id, beating_id = quiet.id, beating.id
    with transaction(store.sessions) as session:
        assert fail_stale_runs(session) == [quiet_id]
    with transaction(store.sessions) as session:
        runs = {r.id: r for r in list_runs(session)}
        assert runs[quiet_id].status is RunStatus.FAILED
        assert runs[quiet_id].error is not None
        assert runs[quiet_id].error.startswith(f"{STALE_REASON} (pid {os.getpid()} on node-17")
        assert runs[beating_id].status is RunStatus.RUNNING
        assert fail_stale_runs(session) == []  # nothing twice


def test_a_dead_local_owner_is_known_at_once_and_a_live_one_left_alone(
    store: Store, small_trace: Path
) -> None:
    scenario_id = _stored_scenario(store, small_trace)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    me = Owner.this_process()
    dead = Owner(me.host, int(gone.stdout), me.instance)
    with transaction(store.sessions) as session:
        dead_id = start_run(session, scenario_id=scenario_id, owner=dead).id
        live_id = start_run(session, scenario_id=scenario_id).id  # this very process
    with transaction(store.sessions) as session:
        assert fail_stale_runs(session) == [dead_id]
        assert session.get_one(SimulationRun, live_id).status is RunStatus.RUNNING


def test_the_heartbeat_moves_while_the_run_goes_on(store: Store, small_trace: Path) -> None:
    scenario_id = _stored_scenario(store, small_trace)
    with transaction(store.sessions) as session:
        run = start_run(session, scenario_id=scenario_id)
        run.heartbeat_at = utcnow() - timedelta(seconds=300)
        run_id = run.id
    with Heartbeat(store.sessions, run_id=run_id, every_s=0.05):
        time.sleep(0.5)
    with transaction(store.sessions) as session:
        assert fail_stale_runs(session) == []
        beat = session.get_one(SimulationRun, run_id).heartbeat_at
        assert beat is not None
        beat = beat if beat.tzinfo else beat.replace(tzinfo=UTC)  # SQLite: naive, in UTC
        assert utcnow() - beat < timedelta(seconds=5)


# ------------------------------------------------------------ probe 6: database errors

UNREACHABLE = {
    "closed port": ("postgresql+psycopg://postgres:s3cret@127.0.0.1:5999/test", "127.0.0.1:5999"),
    "missing database": (
        "postgresql+psycopg://postgres:s3cret@127.0.0.1:5432/no_such_db_20",
        'database "no_such_db_20" does not exist',
    ),
    "unknown driver": ("nonsense://x", "no driver for 'nonsense'"),
    "unparsable url": ("::not a url::s3cret", "not a database URL"),
}


def store_commands(trace: Path) -> list[list[str]]:
    """Every command that opens the store, each as it would first touch it."""
    return [
        ["runs", "list"],
        ["runs", "show", "1"],
        ["db", "status"],
        ["db", "upgrade"],
        ["db", "grant-app-role", "schedsight_app"],
        ["simulate", str(trace), "--save"],
        ["predict", "--workload", "1"],
        ["predict", "--trace", str(trace), "--job", "1", "--save"],
        ["explain", "1", "--trace", str(trace), "--save"],
        ["slurm", "import"],
        ["predict", "report"],
        ["offload", "runs"],
        ["agent", "dispatch", "--no-llm", "--jobs", "10"],
        ["agent", "advise", "short waits", "--no-llm", "--jobs", "200"],
        ["agent", "ask", "what if?", "--no-llm", "--jobs", "200"],
    ]


@pytest.mark.parametrize("case", list(UNREACHABLE))
def test_an_unusable_database_is_one_line_and_status_2_for_every_command(
    case: str,
    small_trace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, says = UNREACHABLE[case]
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", url)
    for argv in store_commands(small_trace):
        assert main(argv) == 2, argv
        line = one_error_line(capsys.readouterr().err)
        assert line.startswith("schedsight: error: ") and says in line, (argv, line)
        assert "s3cret" not in line, (argv, line)


def test_the_probe_runs_as_a_user_would_type_it() -> None:
    proc = schedsight(
        "runs", "list", url="postgresql+psycopg://postgres:s3cret@127.0.0.1:5999/test"
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and out == ""
    line = one_error_line(err)
    assert "cannot connect to the database postgresql+psycopg://postgres:***@127.0.0.1:5999" in line
    assert "check that the server is running" in line


def test_a_read_only_sqlite_uri_is_one_line(
    tmp_path: Path,
    small_trace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "ro.db"
    upgrade(make_engine(sqlite_url(path)))
    monkeypatch.setenv(
        "SCHEDSIGHT_DATABASE_URL", f"sqlite+pysqlite:///file:{path}?mode=ro&uri=true"
    )
    assert main(["simulate", str(small_trace), "--save"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "cannot write to the database" in line and "readonly" in line


def _without_root_powers() -> tuple[str, ...]:
    """A prefix that makes file permissions bind: root bypasses them unless it drops
    CAP_DAC_OVERRIDE (root still owns the venv under /root, so Python still starts)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file read-only to root")
    caps = "-dac_override,-dac_read_search"
    return (setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}")


@pytest.mark.parametrize("locked", ["file", "directory"])
def test_a_read_only_sqlite_file_or_directory_is_one_line(
    locked: str, tmp_path: Path, small_trace: Path
) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    path = folder / "s.db"
    engine = make_engine(sqlite_url(path))
    upgrade(engine)
    engine.dispose()
    for leftover in folder.glob("s.db-*"):  # WAL files a writer would need to create
        leftover.unlink()
    target, mode = (path, 0o444) if locked == "file" else (folder, 0o555)
    target.chmod(mode)
    try:
        proc = schedsight("simulate", str(small_trace), "--save", url=sqlite_url(path),
                          prefix=_without_root_powers())  # fmt: skip
        _, err = proc.communicate(timeout=120)
    finally:
        target.chmod(0o755 if locked == "directory" else 0o644)
    assert proc.returncode == 2, err
    line = one_error_line(err)
    assert f"cannot write to the database {sqlite_url(path)}" in line
    assert "make the database file and its directory writable" in line


def test_a_failing_statement_names_the_database_never_the_values(store: Store) -> None:
    secret = "x" * 300 + "-hunter2"
    failure = pytest.raises((OperationFailedError, InvalidValueError))
    with failure as caught, transaction(store.sessions) as session:
        entry = AuditEntry(actor="a", action="hold", target=secret, params={}, backend="b")
        entry.result = "ok"
        session.add(entry)
        session.flush()
        if store.engine.dialect.name == "sqlite":  # SQLite stores any length: force one
            session.execute(text("SELECT * FROM no_such_table WHERE x = :v"), {"v": secret})
    assert "hunter2" not in str(caught.value)
    assert make_url(store.engine.url).render_as_string(hide_password=True) in str(caught.value)


def test_bad_urls_are_refused_before_any_connection() -> None:
    with pytest.raises(BadUrlError, match="no driver"):
        make_engine("postgresql+nodriver://u:s3cret@h/d")
    with pytest.raises(ConnectFailedError, match="cannot create the folder"):
        make_engine("sqlite+pysqlite:////proc/no/such/place/s.db")


# --------------------------------------------------------- probe 8: the audit log holds


def _one_entry(store: Store) -> int:
    with transaction(store.sessions) as session:
        return append_audit(session, actor="admin", action="hold", target="job-7",
                            params={}, backend="cli", result="ok").id  # fmt: skip


REWRITES = {
    "replace": "REPLACE INTO audit_log (id, at, actor, action, target, params, backend, result)"
    " VALUES (:id, '2026-01-01', 'mallory', 'hold', 'job-7', '{}', 'cli', 'ok')",
    "insert or replace": "INSERT OR REPLACE INTO audit_log (id, at, actor, action, target, "
    "params, backend, result) VALUES (:id, '2026-01-01', 'mallory', 'hold', 'job-7', '{}', "
    "'cli', 'ok')",
    "upsert": "INSERT INTO audit_log (id, at, actor, action, target, params, backend, result)"
    " VALUES (:id, '2026-01-01', 'mallory', 'hold', 'job-7', '{}', 'cli', 'ok')"
    " ON CONFLICT (id) DO UPDATE SET actor = excluded.actor",
}


@pytest.mark.parametrize("how", list(REWRITES))
def test_sqlite_refuses_rewriting_an_entry_by_replace(how: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "s.db"))
    upgrade(engine)
    store = Store(engine, session_factory(engine))
    entry_id = _one_entry(store)
    with pytest.raises(AppendOnlyError), engine.begin() as conn:
        conn.execute(text(REWRITES[how]), {"id": entry_id})
    with transaction(store.sessions) as session:
        assert [(e.id, e.actor) for e in list_audit(session)] == [(entry_id, "admin")]
    _one_entry(store)  # new entries still go in


@pytest.fixture
def owner_and_app(postgres_database: str) -> Iterator[tuple[str, str, str]]:
    """A schema owned by a fresh owner role, and a fresh app role: (owner URL, app URL, app)."""
    tag = uuid.uuid4().hex[:10]
    owner, app, schema = f"sched_owner_{tag}", f"sched_app_{tag}", f"s_{tag}"
    admin = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN'))
        conn.execute(text(f'CREATE ROLE "{app}" LOGIN'))
        conn.execute(text(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{owner}"'))
    base = make_url(postgres_database).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield (
            base.set(username=owner).render_as_string(hide_password=False),
            base.set(username=app).render_as_string(hide_password=False),
            app,
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            for role in (app, owner):
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_postgres_app_role_can_append_but_never_rewrite_the_audit_log(
    owner_and_app: tuple[str, str, str],
    small_trace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner_url, app_url, app = owner_and_app
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", owner_url)
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "grant-app-role", app]) == 0
    granted = capsys.readouterr().out
    assert "GRANT SELECT, INSERT ON " in granted and "audit_log" in granted

    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", app_url)
    assert main(["simulate", str(small_trace), "--save"]) == 0  # the app's work goes on
    app_store = Store(make_engine(app_url), session_factory(make_engine(app_url)))
    entry_id = _one_entry(app_store)
    with transaction(app_store.sessions) as session:
        assert fail_stale_runs(session) == []  # it may still close dead runs
    refused = [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TABLE audit_log",
    ]
    for statement in refused:
        refusal = pytest.raises(OperationFailedError, match="refused this role")
        with refusal, app_store.engine.begin() as conn:
            conn.execute(text(statement))
    with transaction(app_store.sessions) as session:
        assert [(e.id, e.actor) for e in list_audit(session)] == [(entry_id, "admin")]
    app_store.engine.dispose()


def test_grant_app_role_refuses_roles_that_could_disable_the_triggers(
    owner_and_app: tuple[str, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner_url, _, _ = owner_and_app
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", owner_url)
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    owner = make_url(owner_url).username
    for role, says in [
        (owner, "owns the tables"),
        ("postgres", "superuser"),
        ("nobody_x", "no role"),
    ]:
        assert main(["db", "grant-app-role", str(role)]) == 2
        assert says in one_error_line(capsys.readouterr().err)


def test_grant_app_role_on_sqlite_says_to_use_file_permissions(
    store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", store.engine.url.render_as_string(False))
    assert main(["db", "grant-app-role", "app"]) == 2
    assert "no roles" in one_error_line(capsys.readouterr().err)


# ------------------------------------------------------- probe 14: absurd arguments


@pytest.mark.parametrize("limit", [str(10**20), "0", "-5", "ten"])
def test_runs_list_refuses_an_absurd_limit(limit: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["runs", "list", "--limit", limit])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--limit" in err


def test_the_db_layer_refuses_an_absurd_limit_too(store: Store) -> None:
    with pytest.raises(InvalidValueError, match="1 to 10000"), transaction(store.sessions) as s:
        list_runs(s, limit=10**20)


def test_an_actor_longer_than_its_column_is_refused_on_both_databases(store: Store) -> None:
    refusal = pytest.raises(InvalidValueError, match="actor is at most 128 characters, got 200")
    with refusal, transaction(store.sessions) as session:
        append_audit(session, actor="a" * 200, action="hold", target="job-7",
                         params={}, backend="cli", result="ok")  # fmt: skip
    with pytest.raises(InvalidValueError, match="at most 128"):
        AuditTrail(store.sessions, actor="a" * 129)
    with transaction(store.sessions) as session:
        assert list_audit(session) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["slurm", "submit", "--name", "probe14", "--hold", "--actor", "a" * 200, "--", "true"],
        ["slurm", "apply", "7", "hold", "--actor", "a" * 200],
        ["offload", "run", "saxpy", "--actor", "a" * 200],
    ],
)
def test_a_huge_actor_is_refused_before_anything_is_sent(
    argv: list[str],
    store: Store,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", store.engine.url.render_as_string(False))
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--actor" in err and "actor is at most 128 characters, got 200" in err
    with transaction(store.sessions) as session:
        assert list_audit(session) == []
