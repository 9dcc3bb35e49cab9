"""The store's tables: one schema for SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from bulkfetch.jobs import JobState

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_key", sa.String(64), nullable=False, unique=True),
    sa.Column("api", sa.String(64), nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("rows_enqueued", sa.Integer, nullable=False, default=0),
    sa.Column("enqueue_complete", sa.Boolean, nullable=False, default=False),
    sa.Column("refresh_since", sa.Float),
    sa.Column("calls", sa.Integer, nullable=False, default=0),
    sa.Column("rate_limited", sa.Integer, nullable=False, default=0),
    sa.Column("retries", sa.Integer, nullable=False, default=0),
    sa.Column("reclaimed", sa.Integer, nullable=False, default=0),
    sa.Column("stop_kind", sa.String(32)),
    sa.Column("stop_reason", sa.Text),
    # How a worker rebuilds the run's adapter (JSON, never a key), and what the input was
    # (JSON: its path, encoding and content hash). Since version 2.
    sa.Column("adapter", sa.Text),
    sa.Column("input", sa.Text),
    # Since version 3. The run's key without the input's content: an earlier run of the
    # same command over what was another content of the same file has the same lineage.
    sa.Column("lineage", sa.Text),
    sa.Column("header", sa.Text),  # JSON: the input's column names, for the output
    sa.Column("connect_failures", sa.Integer, nullable=False, default=0),  # not calls
    # Since version 4. Billed units (a lookup the API answered about), units possibly
    # billed twice (a request sent whose answer was lost), the cap on billed units (None:
    # none), and the options its lookups share (JSON), for ``status``.
    sa.Column("billed", sa.Integer, nullable=False, default=0),
    sa.Column("maybe_billed", sa.Integer, nullable=False, default=0),
    sa.Column("max_units", sa.Integer),
    sa.Column("options", sa.Text),
    # Since version 7. The run of the same pass (several runs over one input, read once)
    # whose rows keep this run's rows' fields, where its own are NULL; None: its own. That
    # run keeps its own, always: no chain.
    sa.Column("fields_run", sa.Integer),
    # Since version 8. The lookups the run's invocations answered from the store (not
    # billed), each as its summary said, summed.
    sa.Column("from_store", sa.Integer, nullable=False, default=0),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
    sa.Column("api", sa.String(64), nullable=False),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False, default=0.0),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_jobs_state_id", "state", "id"),
)

results = sa.Table(
    "results",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("columns", sa.Text, nullable=False),
    sa.Column("fetched_at", sa.Float, nullable=False),
)

run_jobs = sa.Table(
    "run_jobs",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), primary_key=True),
    # How many of the run's input rows wait on the job. Exact: a chunk's rows, these
    # counts and runs.rows_enqueued commit together, so a crashed chunk is redone whole.
    sa.Column("rows", sa.Integer, nullable=False, default=0),
)

run_rows = sa.Table(
    "run_rows",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("row_no", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id")),
    sa.Column("note", sa.Text),  # why the row has no job (its input cannot be valid)
    # JSON: the row's fields as enqueued; the output is written from them, never by reading
    # the input again (which may have changed). Since version 3; NULL in older runs, and in
    # a run whose fields_run keeps them (the same row number there).
    sa.Column("fields", sa.Text),
)


# A row is settled when its job will not be tried again in this run.
SETTLED_STATES = tuple(s.value for s in JobState if s.is_final or s is JobState.FAILED)
FINAL_STATES = tuple(s.value for s in JobState if s.is_final)
# Final states the API answered (and billed); an answer ages, a refusal does not.
ANSWERED_STATES = tuple(s.value for s in JobState if s.is_answered)


# What a run's calls did each second of the wall clock it sent in (UNIX seconds): for its
# report's charts. A row a second it sent a call in: bounded by its duration, not its
# size (a day of calls is 86,400 rows at most). Since version 9.
run_seconds = sa.Table(
    "run_seconds",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("second", sa.Integer, primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False, default=0),  # requests sent
    sa.Column("rate_limited", sa.Integer, nullable=False, default=0),  # answered 429
    sa.Column("failed", sa.Integer, nullable=False, default=0),  # 5xx, timeouts, no answer
    sa.Column("answered", sa.Integer, nullable=False, default=0),  # answers read, any status
    sa.Column("latency", sa.Float, nullable=False, default=0.0),  # their seconds, summed
    sa.Column("pace", sa.Float),  # the rate calls went out at then (None: no limit)
)


# What an API's reference data was when last fetched (Labor Market's regions, say), kept
# per origin so that checks before a run cost no request: JSON, as the API package made it.
reference = sa.Table(
    "reference",
    metadata,
    sa.Column("origin", sa.Text, primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("fetched_at", sa.Float, nullable=False),
)


# One rate budget per API key, shared by every worker on the store (PostgreSQL): the
# pacing's state, which every worker takes its send slots from and teaches with its
# answers. Named by a fingerprint of the key, never the key. Made anew in version 5.
rate_budgets = sa.Table(
    "rate_budgets",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("ceiling", sa.Float),  # the rate set for the key (calls a second); None: unknown
    sa.Column("rate", sa.Float),  # the rate calls go out at now (calls a second)
    sa.Column("pacing", sa.Text),  # the pacing's state (JSON), on the database's clock
    sa.Column("stop_kind", sa.String(32)),  # a quota or key stop seen by any worker
    sa.Column("stop_reason", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
)


# What each key spent of its allowances over longer windows (a minute, an hour, a day, a
# month), shared by every worker and every run on the store: the calls sent in the window
# that starts at ``starts_at``; a call in a later window starts its count again. Named by
# a fingerprint of the key, never the key. Since version 6.
rate_windows = sa.Table(
    "rate_windows",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("unit", sa.String(16), primary_key=True),
    sa.Column("starts_at", sa.Float, nullable=False),  # UNIX seconds, UTC
    sa.Column("calls", sa.Integer, nullable=False),
)
