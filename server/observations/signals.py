"""Signals other apps listen to, so they never reach into the recordings pipeline's internals.

``observation_accepted`` is sent with ``observation=`` (a saved :class:`Observation`) **inside the
transaction** that creates it from an analysed recording. Receivers (game ledger, quests,
soundscape staleness, live map) write their rows in that same transaction, so a worker that dies
mid-task leaves either everything or nothing; anything that talks to the outside world (websocket
pushes, Redis leaderboards) must be deferred with ``transaction.on_commit``. Receivers must be
idempotent: a redelivered task can only re-send for an observation whose transaction rolled back.
"""
from django.dispatch import Signal

observation_accepted = Signal()
