"""Schema migrations: upgrade from empty, idempotence, downgrade, and models in step."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from db.errors import SchemaOutOfDateError
from db.heartbeat import STALE_REASON
from db.migrate import current_revision, downgrade, head_revision, require_current, upgrade
from db.models import Base, RunStatus, SimulationRun, utcnow
from db.runs import fail_stale_runs
from db.session import make_engine, session_factory, sqlite_url, transaction
from schedsight.storage import Store


def test_upgrade_creates_the_schema_from_empty(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    before, after = upgrade(engine)
    assert (before, after) == (None, head_revision())
    require_current(engine)


def test_upgrade_twice_changes_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert upgrade(engine) == (head_revision(), head_revision())


def test_downgrade_to_base_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    downgrade(engine, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_models_match_the_migrations(store: Store) -> None:
    """Every model change needs its own revision: autogenerate finds nothing to add."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_an_unmigrated_database_is_refused_with_the_fix(db_url: str) -> None:
    with pytest.raises(SchemaOutOfDateError, match="run `schedsight db upgrade`"):
        require_current(make_engine(db_url))


def _legacy_running_run(engine: Engine, *, minutes_ago: int) -> int:
    """A `running` row as revision 0002 stored it: no owner, no heartbeat."""
    at = utcnow() - timedelta(minutes=minutes_ago)
    with engine.begin() as conn:
        workload_id = conn.execute(
            text(
                "INSERT INTO workloads (name, source, checksum, job_count, header, read_report,"
                " cleaning_report, created_at) VALUES ('w', 'w.swf', 'abc', 0, '{}', '[]', '{}',"
                " :at) RETURNING id"
            ),
            {"at": at},
        ).scalar_one()
        scenario_id = conn.execute(
            text(
                "INSERT INTO scenarios (key, workload_id, policy, spec, created_at)"
                " VALUES ('k', :w, 'fcfs:easy', '{}', :at) RETURNING id"
            ),
            {"w": workload_id, "at": at},
        ).scalar_one()
        return int(
            conn.execute(
                text(
                    "INSERT INTO simulation_runs (scenario_id, status, created_at)"
                    " VALUES (:s, 'running', :at) RETURNING id"
                ),
                {"s": scenario_id, "at": at},
            ).scalar_one()
        )


def test_0003_keeps_old_running_rows_and_later_fails_them(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0002")
    run_id = _legacy_running_run(engine, minutes_ago=10)
    assert upgrade(engine) == ("0002", head_revision())
    factory = session_factory(engine)
    with transaction(factory) as session:
        run = session.get_one(SimulationRun, run_id)
        assert run.status is RunStatus.RUNNING and run.owner_pid is None
        assert fail_stale_runs(session) == [run_id]
    with transaction(factory) as session:
        error = session.get_one(SimulationRun, run_id).error
        assert error is not None and error.startswith(f"{STALE_REASON} (an unknown process")


def test_0003_down_and_up_again(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    downgrade(engine, "0002")
    columns = {c["name"] for c in inspect(engine).get_columns("simulation_runs")}
    assert "heartbeat_at" not in columns and "owner_pid" not in columns
    upgrade(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("simulation_runs")}
    assert {"owner_host", "owner_pid", "owner_instance", "heartbeat_at"} <= columns


def _sqlite_triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        return {row[0] for row in rows}


def test_0003_brings_the_sqlite_replace_guard_and_takes_it_back(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "s.db"))
    upgrade(engine, "0002")
    assert "audit_log_no_replace" not in _sqlite_triggers(engine)
    upgrade(engine)
    assert {"audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"} <= (
        _sqlite_triggers(engine)
    )
    downgrade(engine, "0002")
    assert _sqlite_triggers(engine) == {"audit_log_no_update", "audit_log_no_delete"}
