"""The Django admin's rule for the admin role: users with it manage the apps' models without
per-model grants (Django's permission tables stay unused)."""
from server.common.permissions import is_admin


class AdminRoleMixin:
    """For a ``ModelAdmin``: users with the admin role may see, add, change and delete."""

    def has_module_permission(self, request):
        return is_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_admin(request.user)

    def has_add_permission(self, request, *args):
        return is_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_admin(request.user)
