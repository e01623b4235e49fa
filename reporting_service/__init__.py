"""reporting_service: read models built from events, portfolio reports."""
