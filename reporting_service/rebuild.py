"""`microfinance rebuild-reports`: drop the read models and replay the event log into them.

The replay runs the consumer's own projection on every logged event, oldest
first, ``CHUNK`` events at a time (``Project.apply_many``, which leaves the
documents ``Project.apply`` one by one leaves), so the read models come out as
the live consumer built them. Run it with reporting_service stopped: an event
projected live during the replay could land in a collection about to be
dropped (it is in the log, so a second rebuild takes it).
"""

from __future__ import annotations

from collections.abc import Callable

from reporting_service.adapters.read_models import ReadModels
from reporting_service.consumers import Project
from reporting_service.migrations import REGISTRY
from reporting_service.service import NoCache, ReportingService
from shared.config import Settings
from shared.events import Event
from shared.mongo import create_mongo_client
from shared.runtime import database_name

# Logged events projected together (one pass for the repayments between two end-of-day
# events; see Project.apply_many).
CHUNK = 1000


async def rebuild(settings: Settings, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild every read model from the event log; returns the number of events replayed."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-rebuild-reports")
    try:
        db = client[database_name(settings, "reporting")]
        models = ReadModels(db)
        project = Project(ReportingService(models, NoCache(), settings.business_tz()))
        await models.drop_read_models()
        await REGISTRY.apply(db)
        count = 0
        chunk: list[Event] = []
        async for body in models.logged_events():
            chunk.append(Event.from_json(body))
            if len(chunk) == CHUNK:
                await project.apply_many(chunk, None)
                count += len(chunk)
                chunk = []
                if progress is not None:
                    progress(count)
        await project.apply_many(chunk, None)
        count += len(chunk)
        # The replay built the totals as the live consumer does: they are current.
        await models.mark_totals_current()
        return count
    finally:
        await client.close()
