"""``recordings/analysis.py`` is free of database access: it imports nothing that reaches the database,
and it analyses a recording with the classifier it is given in a test that may not touch the database
(pytest-django fails any query made without the ``django_db`` mark)."""
from __future__ import annotations

import ast
from pathlib import Path

from ml.runtime.classifier import DEFAULT_MODEL_PATH, load_classifier
from server.recordings import analysis

ANALYSIS_SOURCE = Path(analysis.__file__)
DATABASE_REACHING = ("django.db", "django.apps", "django.contrib", "server")


def imported_modules(source: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names, at module level or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_analysis_imports_nothing_that_reaches_the_database():
    modules = imported_modules(ANALYSIS_SOURCE.read_text(encoding="utf-8"))
    reaching = sorted(m for m in modules if m.startswith(".")
                      or any(m == p or m.startswith(p + ".") for p in DATABASE_REACHING))
    assert reaching == [], f"analysis.py imports {reaching}; the task passes in what it needs"


def test_the_import_check_sees_a_model_import():
    assert imported_modules("from server.modelregistry.models import ModelSet\n"
                            "def f():\n    from django.db import connection\n") == {
        "server.modelregistry.models", "django.db"}


def test_a_recording_is_analysed_with_the_given_classifier_without_the_database(bird_clips, settings):
    settings.CLASSIFIER_MODEL_PATH = None  # nothing pins a file: a registry lookup would query
    model = load_classifier(DEFAULT_MODEL_PATH)
    outcome = analysis.analyse_audio(bird_clips[0].data, (0.0, 3.0), None, model)
    assert not outcome.rejected, (outcome.reject_code, outcome.reject_reason)
    assert outcome.prediction is not None and outcome.prediction.model_version == model.version
    assert outcome.report["classification"]["model_version"] == model.version
    assert set(outcome.probabilities) == set(model.labels)
