"""``tickwork worker``: run executions from the queue."""

from __future__ import annotations

import click

from tickwork.queues import MAX_JOBS_PER_PROCESS, redis_url


@click.command()
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
@click.option(
    "--processes", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--max-jobs",
    type=click.IntRange(1, 1_000_000),
    default=MAX_JOBS_PER_PROCESS,
    show_default=True,
    help="Replace a process after this many executions.",
)
def worker(burst: bool, processes: int, max_jobs: int) -> None:
    """Run queued executions with N worker processes (Ctrl-C finishes the current jobs)."""
    from tickwork.worker import run_workers  # the job stack loads only for the command that runs jobs

    redis_url()  # fail now, with a clear message, if REDIS_URL is missing
    run_workers(processes=processes, burst=burst, max_jobs=max_jobs)
