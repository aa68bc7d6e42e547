"""Android runtime permissions (microphone, location), asked only after the explanation screen.

On Android (python-for-android) ``android.permissions.request_permissions`` shows the system
dialogs and calls back with the grants; on a desktop everything counts as granted. The result
is a dict ``{"RECORD_AUDIO": bool, "ACCESS_FINE_LOCATION": bool}`` and :func:`denied_message`
turns refusals into what the player can still do.
"""
from __future__ import annotations

from typing import Callable

from .services.factory import on_android

NEEDED = ("RECORD_AUDIO", "ACCESS_FINE_LOCATION", "ACCESS_COARSE_LOCATION")
WHY = {
    "RECORD_AUDIO": "Microphone: only while you press Record; nothing is recorded in the background.",
    "ACCESS_FINE_LOCATION": "Location: places your recordings on the map; rare species are shown to others "
                            "only approximately.",
}


def granted_now() -> dict[str, bool]:
    """What is granted already (all True off Android)."""
    if not on_android():
        return {p: True for p in NEEDED}
    from android.permissions import Permission, check_permission  # type: ignore[import-not-found]

    return {p: bool(check_permission(getattr(Permission, p))) for p in NEEDED}


def request(on_result: Callable[[dict[str, bool]], None]) -> None:
    """Ask for the missing permissions; ``on_result`` gets every permission's state."""
    if not on_android():
        on_result({p: True for p in NEEDED})
        return
    from android.permissions import Permission, request_permissions  # type: ignore[import-not-found]

    have = granted_now()
    missing = [p for p in NEEDED if not have[p]]
    if not missing:
        on_result(have)
        return

    def callback(permissions, grants) -> None:
        result = dict(have)
        for name, ok in zip(permissions, grants):
            result[str(name).rsplit(".", 1)[-1]] = bool(ok)
        on_result(result)

    request_permissions([getattr(Permission, p) for p in missing], callback)


NOTIFICATIONS = "android.permission.POST_NOTIFICATIONS"   # Android 13+; older versions grant it implicitly


def request_notifications(on_result: Callable[[bool], None]) -> None:
    """Ask for permission to show notifications (when the player opts in); True off Android."""
    if not on_android():
        on_result(True)
        return
    from android.permissions import check_permission, request_permissions  # type: ignore[import-not-found]

    if check_permission(NOTIFICATIONS):
        on_result(True)
        return
    request_permissions([NOTIFICATIONS], lambda _perms, grants: on_result(bool(grants and grants[0])))


def denied_message(result: dict[str, bool]) -> str:
    """'' when recording can go ahead, else a human explanation of what is missing."""
    lines = []
    if not result.get("RECORD_AUDIO", False):
        lines.append("Without the microphone you cannot record; allow it in Settings → Apps → Dawn Chorus.")
    if not (result.get("ACCESS_FINE_LOCATION", False) or result.get("ACCESS_COARSE_LOCATION", False)):
        lines.append("Without location your recordings cannot be placed on the map; they wait in the queue "
                     "until you allow it.")
    return "\n".join(lines)
