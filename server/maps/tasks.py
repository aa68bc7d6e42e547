"""Celery tasks of the map: run an export job (recording its progress); refresh the summary from its journal,
and ask for such a refresh (at most one queued at a time).

Both tasks are idempotent and acknowledged late: a killed worker's task runs again and repeats nothing.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from server.platform import storage as files

from . import generation, refresh
from .export_query import export_queryset
from .exports import FORMATS, write_export
from .filters import MapFilters
from .models import ExportJob, ExportStatus

log = logging.getLogger(__name__)


def export_path(job: ExportJob) -> str:
    return f"exports/{job.pk}.{FORMATS[job.format][1]}"


@shared_task(name="maps.run_export", acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def run_export(job_id: str) -> str:
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is None or job.status in (ExportStatus.DONE, ExportStatus.FAILED):
        return "skipped"
    qs = export_queryset(MapFilters.from_json(job.filters), job.bbox or None)
    total = qs.count()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, total=total, done=0)
    rel = export_path(job)
    base = job.base_url.rstrip("/")

    def progress(n: int) -> None:
        ExportJob.objects.filter(pk=job.pk).update(done=n)

    try:
        with tempfile.TemporaryDirectory(prefix="dawn-export-") as folder:
            local = Path(folder) / Path(rel).name
            n = write_export(job.format, qs, local, lambda p: base + p, progress)
            files.put_file(rel, local)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        log.exception("export %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED, error=str(exc)[:300],
                                                   finished_at=timezone.now())
        return "failed"
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.DONE, done=n, total=n, file=rel,
                                               finished_at=timezone.now())
    return "done"


REFRESH_TASK_SECONDS = 20.0  # then hand over to a fresh task (other work gets the worker in between)
REQUEST_DELAY_S = 1.0        # an on-commit request waits this long, so a burst of writes shares one refresh
REQUEST_TTL_S = 30           # a lost request (broker hiccup) blocks new ones at most this long; beat covers it


@shared_task(name="maps.refresh_summary", acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=3)
def refresh_summary() -> int:
    """Fold the summary journal into the tables (skips if another refresh is running); rows applied."""
    clear_request()
    applied, more = refresh.drain(max_seconds=REFRESH_TASK_SECONDS, wait=False)
    if more:
        request_refresh()
    return applied


def request_key() -> str:
    return f"{generation.KEY_PREFIX}maps:refresh-requested:{generation.scope()}"


def request_refresh() -> None:
    """Enqueue ``maps.refresh_summary`` unless one is already queued (best effort: beat catches up)."""
    try:
        if generation.client().set(request_key(), 1, nx=True, ex=REQUEST_TTL_S):
            refresh_summary.apply_async(countdown=REQUEST_DELAY_S, retry=False)
    except Exception as exc:  # pragma: no cover - Redis or broker down: the data is committed
        log.warning("map summary refresh request failed: %s", exc)


def clear_request() -> None:
    """A starting refresh task: writes committed from now on enqueue a fresh one."""
    try:
        generation.client().delete(request_key())
    except Exception:  # pragma: no cover
        pass
