"""Celery application; configuration comes from Django settings (CELERY_* names)."""
import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from server.platform.malloc_tuning import tune_malloc

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
# One BLAS thread per process: workers scale by processes, and idle BLAS threads spinning up
# for small matrix products cost more than they give on a busy machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
tune_malloc()  # every server process imports this module (server/__init__.py): web and workers alike

app = Celery("server")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def redact_tokens_in_worker_logs(logger, **kwargs):
    """Celery's own handlers (worker and task loggers) redact token-shaped text like Django's."""
    from server.common.log_redaction import install

    install([logger])
