"""Bulk runs: a source enqueued into the store, its jobs worked by the engine, the output
written or streamed, in input order. ``run.Run`` is the one object that does it, for the
command line, the library and the workers alike."""

from __future__ import annotations

from bulkfetch.run.files import RunOptions, run_file
from bulkfetch.run.output import OutputFormat
from bulkfetch.run.pace import pacer_for
from bulkfetch.run.plan import Plan, plan
from bulkfetch.run.report import Progress, RunReport, WorkReport
from bulkfetch.run.run import Run
from bulkfetch.run.stream import Item, fetch_many
from bulkfetch.run.worker import export_run, work

__all__ = [
    "Item",
    "OutputFormat",
    "Plan",
    "Progress",
    "Run",
    "RunOptions",
    "RunReport",
    "WorkReport",
    "export_run",
    "fetch_many",
    "pacer_for",
    "plan",
    "run_file",
    "work",
]
