"""Text for an observation's detail card and for counts, from the server's shapes (no Kivy)."""
from __future__ import annotations

GRADES = {"research": "Research grade", "needs_id": "Needs identification", "casual": "Casual"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 recording``, ``2 recordings`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def percent(p: float) -> str:
    """A probability as a percentage for people: ``<1%`` below one percent, never ``0%``."""
    return "<1%" if p < 0.005 else f"{p:.0%}"


def detail_lines(detail: dict) -> tuple[str, str]:
    """(title, body) of the map's detail card for ``/api/v1/map/observations/<id>/``.

    An obscured observation says that its place is approximate and shows the date only, as served."""
    sp = detail.get("species") or {}
    title = sp.get("common_name") or sp.get("label") or "Observation"
    lines = []
    if sp.get("scientific_name"):
        lines.append(sp["scientific_name"])
    when = str(detail.get("observed_at") or "")
    if when:
        lines.append(when[:10] if detail.get("date_precision") == "day" or detail.get("obscured")
                     else when[:16].replace("T", " ") + " UTC")
    grade = GRADES.get(str(detail.get("grade")), str(detail.get("grade") or ""))
    if grade:
        conf = detail.get("confidence")
        lines.append(grade + (f" · model {percent(float(conf))} sure" if isinstance(conf, (int, float)) else ""))
    if detail.get("obscured"):
        lines.append("Rare species: the place is shown only approximately.")
    elif detail.get("locality"):
        lines.append(str(detail["locality"]))
    if detail.get("recordist"):
        lines.append(f"Recorded by {detail['recordist']}")
    if not detail.get("audio_url"):
        lines.append("No public recording.")
    return title, "\n".join(lines)
