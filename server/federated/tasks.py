"""Celery tasks of federated rounds: aggregate (idempotent, acknowledged late), close due rounds,
open scheduled rounds."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from .models import Round, RoundSchedule, RoundStatus

log = logging.getLogger(__name__)


@shared_task(name="federated.aggregate_round", acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def aggregate_round(round_id: int) -> str:
    from .aggregation import aggregate_round as run

    return run(round_id)


def enqueue_aggregation(round_id: int) -> None:
    """Queue aggregation after the current transaction commits (a broker outage is retried by beat)."""
    def send():
        try:
            aggregate_round.apply_async(args=[round_id], retry=False)
        except Exception as exc:  # noqa: BLE001 - the beat sweep re-queues due rounds
            log.warning("could not enqueue aggregation of round %s: %s", round_id, exc)

    transaction.on_commit(send)


@shared_task(name="federated.close_due_rounds")
def close_due_rounds() -> int:
    """Queue aggregation of open rounds past their deadline, and of rounds stuck aggregating;
    move secure rounds whose phase deadline passed on to their next phase."""
    from .secagg import advance_due

    now = timezone.now()
    due = list(Round.objects.filter(status=RoundStatus.OPEN, deadline__lte=now, secagg_phase="")
               .values_list("pk", flat=True)) + advance_due()
    stuck = list(Round.objects.filter(status=RoundStatus.AGGREGATING, deadline__lte=now - timedelta(minutes=15))
                 .values_list("pk", flat=True))
    for pk in due + stuck:
        aggregate_round.apply_async(args=[pk], retry=False)
    return len(due) + len(stuck)


@shared_task(name="federated.open_scheduled_rounds")
def open_scheduled_rounds() -> int:
    """Open a round for every enabled schedule that is due and has no round in progress."""
    from .services import open_round

    opened = 0
    now = timezone.now()
    for sched in RoundSchedule.objects.filter(enabled=True):
        if sched.last_opened_at and now - sched.last_opened_at < timedelta(minutes=sched.every_minutes):
            continue
        if Round.objects.filter(schedule=sched, status__in=(RoundStatus.OPEN, RoundStatus.AGGREGATING)).exists():
            continue
        try:
            open_round(duration=timedelta(minutes=sched.duration_minutes), schedule=sched,
                       **dict(sched.settings or {}))
        except ValueError as exc:
            log.warning("schedule %s: %s", sched, exc)
            continue
        RoundSchedule.objects.filter(pk=sched.pk).update(last_opened_at=now)
        opened += 1
    return opened
