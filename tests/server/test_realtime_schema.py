"""One publisher, one documented schema: only ``server/realtime/`` sends to client groups, and
``docs/realtime.md`` documents every message type each socket sends (and no other)."""
from __future__ import annotations

import re
from pathlib import Path

from server.realtime.consumers import RELAYED

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
DOC = ROOT / "docs" / "realtime.md"
EVENTS_CONTROL = {"hello", "pong", "subscribed", "unsubscribed", "error"}   # answered by the consumer itself
MAP_TYPES = {"hello", "pong", "subscribed", "unsubscribed", "error", "observation.created", "observation.changed"}


def offenders(pattern: str) -> list[str]:
    """Python modules under server/ outside server/realtime/ whose text matches ``pattern``."""
    return sorted(str(path.relative_to(ROOT)) for path in SERVER.rglob("*.py")
                  if "realtime" not in path.relative_to(SERVER).parts[:1]
                  and re.search(pattern, path.read_text(encoding="utf-8")))


def test_only_the_realtime_app_sends_to_client_groups():
    assert offenders(r"\bgroup_send\b") == []
    assert offenders(r"server\.realtime\.outbox|from \.outbox|realtime import outbox") == []


def documented_types(section: str) -> set[str]:
    """The first-column types of the server → client table in the doc's section starting ``## `section```."""
    text = DOC.read_text(encoding="utf-8")
    body = text.split(f"## `{section}`", 1)[1].split("\n## ", 1)[0]
    table = body.split("Server → client:", 1)[1]
    return {name for row in re.findall(r"^\| (.+?) \|", table, re.M) for name in re.findall(r"`([a-z.]+)`", row)}


def test_every_message_type_is_documented_for_its_socket():
    assert documented_types("/ws/v1/events/") == set(RELAYED) | EVENTS_CONTROL
    assert documented_types("/ws/map/") == MAP_TYPES
    assert "map" not in {t.split(".")[0] for t in RELAYED}   # the map feed lives on /ws/map/ only
