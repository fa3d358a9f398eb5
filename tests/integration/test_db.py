"""The migration builds what the models say, on PostgreSQL and SQLite; the ledger lets one claimer in."""
from __future__ import annotations

import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from connectors.errors import RetriableError
from db.migrate import upgrade
from db.models import MIGRATION_ONLY_INDEXES, Base, InboxEvent, SyncRun
import db.reconcile_models  # noqa: F401  (their tables join Base.metadata, as in db/migrations/env.py)
import db.store_models  # noqa: F401
from db.session import get_engine, session_scope
from db.models import StepLedger
from flows.runs import run_stage


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request, pg_url, tmp_path):
    url = pg_url if request.param == "postgresql" else f"sqlite:///{tmp_path / 'p.sqlite3'}"
    upgrade(url)
    return url


def test_migration_matches_the_models(db_url):
    def compared(obj, name, type_, reflected, compare_to):
        return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)

    with get_engine(db_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": compared})
        assert compare_metadata(context, Base.metadata) == []
        # the search's expression indexes are there on PostgreSQL (and only there)
        made = {i["name"] for i in inspect(conn).get_indexes("sync_run")}
        assert made & MIGRATION_ONLY_INDEXES == (MIGRATION_ONLY_INDEXES if conn.dialect.name == "postgresql"
                                                 else set())


def test_inbox_is_unique_per_source_and_event(db_url):
    with session_scope(db_url) as s:
        s.add(InboxEvent(source="webhook", event_id="e1", event_type="t", payload={}, status="received", attempts=0))
    with pytest.raises(IntegrityError):
        with session_scope(db_url) as s:
            s.add(InboxEvent(source="webhook", event_id="e1", event_type="t", payload={}, status="received",
                             attempts=0))


def _stage_world(db_url, action, lease_seconds=60.0):
    """A one-stage kind whose `order` stage writes one document by calling `action`, and its context."""
    from pathlib import Path

    from config.mapping import load_mapping
    from flows.runs import FlowContext, Kind, Plan, Post
    from schemas.domain import ErpDocument

    def order(ctx, run):
        def write(keys):
            key, ref = action()
            return ErpDocument("sales_order", key, ref)
        return Plan((Post("sales_order", write),))

    mapping = load_mapping(Path(__file__).resolve().parents[2] / "config" / "mappings" / "paytrace-sage50.yaml")
    ctx = FlowContext(db_url=db_url, gateway=None, erp=None, mapping=mapping, lease_seconds=lease_seconds)
    return ctx, {"sale": Kind("sale", None, {"order": order}, lambda ctx, run: ("order", "gl"))}


def test_two_concurrent_claims_of_one_stage_reach_the_erp_once(db_url):
    with session_scope(db_url) as s:
        run = SyncRun(gateway="paytrace", transaction_id=1, erp="sage50", status="running")
        s.add(run)
        s.flush()
        run_id = run.id
    calls, errors = [], []
    barrier = threading.Barrier(2)

    def action():
        calls.append(1)
        time.sleep(0.5)  # the ERP is slow; the other claimer arrives meanwhile
        return "KEY-1", "PT1-SO"

    ctx, kinds = _stage_world(db_url, action)

    def worker():
        barrier.wait()
        try:
            run_stage(ctx, run_id, "order", kinds)
        except RetriableError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(errors) == 1
    assert 50 < errors[0].retry_after <= 60  # come back when the other claim's lease would run out
    with session_scope(db_url) as s:
        row = s.query(StepLedger).one()
        assert (row.status, row.erp_ref, row.stage, row.step) == ("done", "KEY-1", "order", "sales_order")
        assert s.get(SyncRun, run_id).current_step == "order"  # not the last stage: the run goes on
    # and a later delivery of the same stage is a no-op: the document is recorded, nothing is written
    run_stage(ctx, run_id, "order", kinds)
    assert len(calls) == 1


def test_a_claim_left_by_a_process_on_another_host_is_taken_over_when_its_lease_runs_out(db_url):
    from datetime import timedelta

    from db.types import utcnow

    with session_scope(db_url) as s:
        run = SyncRun(gateway="paytrace", transaction_id=2, erp="sage50", status="running")
        s.add(run)
        s.flush()
        s.add(StepLedger(run_id=run.id, step="sales_order", stage="order", idempotency_key="2:sales_order",
                         status="running", claimed_by="another-host:4242:1", attempts=1,
                         started_at=utcnow() - timedelta(seconds=50)))
        run_id = run.id
    ctx, kinds = _stage_world(db_url, lambda: ("K", "R"))
    with pytest.raises(RetriableError) as busy:
        run_stage(ctx, run_id, "order", kinds)
    assert 2 <= busy.value.retry_after <= 11
    # once the lease has run out, the stage is ours
    ctx, kinds = _stage_world(db_url, lambda: ("K2", "R2"), lease_seconds=40)
    run_stage(ctx, run_id, "order", kinds)
    with session_scope(db_url) as s:
        assert s.query(StepLedger).one().erp_ref == "K2"


def test_the_search_migration_finds_pg_trgm_in_a_schema_of_its_own(pg_factory):
    # Given a server that keeps its extensions in a schema of their own (as managed servers do)
    url = pg_factory()
    with get_engine(url).begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA extensions")
        conn.exec_driver_sql("CREATE EXTENSION pg_trgm SCHEMA extensions")
    # When the migrations run, then they finish with the name's trigram index on that schema's class
    upgrade(url)
    with get_engine(url).connect() as conn:
        made = conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_sync_run_name_trgm'").scalar()
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert "extensions.gin_trgm_ops" in made and version >= "0017"


def test_the_search_migration_goes_on_without_pg_trgm_where_it_cannot_be_created(pg_factory):
    # Given a role that owns nothing and may not create extensions in its database
    url = pg_factory()
    admin = get_engine(url)
    role = "paysync_nocreate"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {conn.engine.url.database} TO {role}")
        conn.exec_driver_sql(f"REVOKE CREATE ON DATABASE {conn.engine.url.database} FROM PUBLIC")
        conn.exec_driver_sql(f"GRANT ALL ON SCHEMA public TO {role}")
    try:
        # When it runs the migrations, then they finish, the two plain indexes made and the name's left out
        as_role = url.replace("postgres@", f"{role}@")
        upgrade(as_role)
        with get_engine(as_role).connect() as conn:
            names = {row[0] for row in conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'sync_run'")}
        assert {"ix_sync_run_invoice_text", "ix_sync_run_customer_text"} <= names
        assert "ix_sync_run_name_trgm" not in names
    finally:
        get_engine(url.replace("postgres@", f"{role}@")).dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"REASSIGN OWNED BY {role} TO postgres")
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
