"""The schema's versions: a new store gets the latest; an older one is brought up to it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bulkfetch.errors import StoreError
from bulkfetch.store.schema import meta, metadata

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "create_schema"]

SCHEMA_VERSION = 9

# How a store of each earlier version is brought to this one, in order: statements that
# add what the version after it has (new tables are made by ``create_all``).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE runs ADD COLUMN adapter TEXT",
        "ALTER TABLE runs ADD COLUMN input TEXT",
    ),
    # Output is written from the store alone: the rows' fields and the input's header.
    2: (
        "ALTER TABLE runs ADD COLUMN lineage TEXT",
        "ALTER TABLE runs ADD COLUMN header TEXT",
        "ALTER TABLE runs ADD COLUMN connect_failures INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE run_rows ADD COLUMN fields TEXT",
    ),
    # What a run spent, its cap, and its options. Runs of before count no billed units.
    3: (
        "ALTER TABLE runs ADD COLUMN billed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN maybe_billed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN max_units INTEGER",
        "ALTER TABLE runs ADD COLUMN options TEXT",
    ),
    # The shared budgets keep the pacing's whole state: made anew (they hold no run's data;
    # the next worker to join starts the key's pacing again).
    4: ("DROP TABLE rate_budgets",),
    # The keys' spend over longer windows: a new table, made by ``create_all``. A store of
    # before knows nothing of what was spent: its counts start at 0.
    5: (),
    # Several runs over one input, read once: one of them keeps the rows' fields. A run of
    # before keeps its own (NULL: its own).
    6: ("ALTER TABLE runs ADD COLUMN fields_run INTEGER",),
    # What a run's last command had from the store. A run of before kept no command's
    # figure: it starts at what its first one had from the store, the lookups answered
    # before it began (what status counted until then; answered: ANSWERED_STATES).
    7: (
        "ALTER TABLE runs ADD COLUMN from_store INTEGER NOT NULL DEFAULT 0",
        "UPDATE runs SET from_store = (SELECT COUNT(*) FROM run_jobs"
        " JOIN jobs ON jobs.id = run_jobs.job_id WHERE run_jobs.run_id = runs.id"
        " AND jobs.state IN ('done', 'not_found')"
        " AND jobs.updated_at < runs.created_at)",
    ),
    # What a run's calls did each second, for its report: a new table (``create_all``). A
    # run of before has no seconds counted: its report has its totals and no charts.
    8: (),
}

_SCHEMA_LOCK = 0x62756C6B  # "bulk": the advisory lock that serialises schema changes


def create_schema(conn: Connection) -> None:
    """Make the tables, or bring a store of an earlier version up to this one."""
    if conn.dialect.name == "postgresql":  # workers starting together: one at a time here
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
    fresh = not sa.inspect(conn).has_table("meta")
    metadata.create_all(conn)
    found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    version = SCHEMA_VERSION if fresh or found is None else int(found)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store has schema version {version}; this bulkfetch reads up to "
            f"{SCHEMA_VERSION}: upgrade bulkfetch"
        )
    for step in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[step]:
            conn.execute(sa.text(statement))
    if version < SCHEMA_VERSION:
        metadata.create_all(conn)  # what a migration dropped to make anew
    if found is None:
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    elif version != SCHEMA_VERSION:
        conn.execute(
            meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
        )
