"""`microfinance rebuild-reports`: drop the read models and replay the event log into them.

The replay runs the consumer's own projection (``Project.apply``) on every
logged event, oldest first, so the read models come out as the live
consumer built them. Run it with reporting_service stopped: an event
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
        async for body in models.logged_events():
            await project.apply(Event.from_json(body), None)
            count += 1
            if progress is not None and count % 1000 == 0:
                progress(count)
        # The replay built the totals as the live consumer does: they are current.
        await models.mark_totals_current()
        return count
    finally:
        await client.close()
