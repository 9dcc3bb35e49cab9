"""The engine: claims jobs, paces calls, classifies answers, stores outcomes, stops cleanly.

API-agnostic: it knows jobs, batches, limits, retries and stops; never a URL, a key, a
status code or a body's shape. ``scheduler`` runs the work (claimer, workers, writer),
``classify`` says what an answer means for the jobs it carried, ``reach`` whether the API
can be reached, ``settings`` how hard to work, ``stop`` why to stop.
"""

from __future__ import annotations

from bulkfetch.engine.arrivals import Arrivals
from bulkfetch.engine.scheduler import OnOutcomes, run_jobs
from bulkfetch.engine.settings import EngineSettings
from bulkfetch.engine.stop import StopRequest, stop_kind

__all__ = ["Arrivals", "EngineSettings", "OnOutcomes", "StopRequest", "run_jobs", "stop_kind"]
