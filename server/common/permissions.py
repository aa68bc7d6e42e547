"""Role-based permissions: player < researcher < admin (see accounts.models.Role)."""
from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission


def is_researcher(user) -> bool:
    return bool(user and user.is_authenticated and getattr(user, "can_research", False))


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and getattr(user, "is_admin_role", False))


class IsResearcher(BasePermission):
    message = "This needs the researcher or admin role."

    def has_permission(self, request, view) -> bool:
        return is_researcher(request.user)


class IsAdminRole(BasePermission):
    message = "This needs the admin role."

    def has_permission(self, request, view) -> bool:
        return is_admin(request.user)


class ReadOnlyOrAdmin(BasePermission):
    """Anyone may read; only admins may write."""

    message = "Only admins may change this."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or is_admin(request.user)
