"""The rich progress bar the CLI's long commands show on a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress


def start_bar(description: str = "{task.description}") -> Progress:
    """A started rich ``Progress``: description, bar, done/total, time elapsed.

    rich is imported here, not at module load: only a terminal needs it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )
    progress.start()
    return progress
