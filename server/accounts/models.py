"""Users with one of three roles: player, researcher, admin."""
from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    PLAYER = "player", "Player"
    RESEARCHER = "researcher", "Researcher"
    ADMIN = "admin", "Admin"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PLAYER)
    display_name = models.CharField(max_length=80, blank=True)

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def can_research(self) -> bool:
        """Researchers and admins see every recording, true coordinates and audio."""
        return self.role in (Role.RESEARCHER, Role.ADMIN) or self.is_superuser

    def save(self, *args, **kwargs):
        # Admins reach the Django admin; other roles never do.
        if self.role == Role.ADMIN:
            self.is_staff = True
        elif not self.is_superuser:
            self.is_staff = False
        super().save(*args, **kwargs)
