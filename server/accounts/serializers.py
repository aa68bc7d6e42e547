"""Registration, login and user representations."""
from __future__ import annotations

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status

from server.common.errors import ApiError

from .lockout import ACCOUNT_LOCKED, lockout_message
from .models import Role, User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "display_name", "email", "role", "date_joined"]
        read_only_fields = ["id", "username", "role", "date_joined"]


class RegisterSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[A-Za-z0-9_.-]{3,40}$", max_length=40,
                                      error_messages={"invalid": "3-40 letters, digits, '_', '.' or '-'."})
    password = serializers.CharField(write_only=True, min_length=8, max_length=128)
    email = serializers.EmailField(required=False, allow_blank=True)
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=80)

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("This username is taken.", code="username_taken")
        return value

    def validate(self, attrs: dict) -> dict:
        try:
            password_validation.validate_password(attrs["password"], User(username=attrs["username"]))
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}, code="weak_password")
        return attrs

    def create(self, validated: dict) -> User:
        return User.objects.create_user(role=Role.PLAYER, **validated)


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, max_length=128)

    def validate(self, attrs: dict) -> dict:
        """Checks the password through Django's backends, django-axes first: the request goes
        along so that failures count per account and per client address, and a locked-out login
        is refused with ``429 account_locked`` whatever the password."""
        request = getattr(self.context["request"], "_request", self.context["request"])  # Django's, not DRF's
        user = authenticate(request, username=attrs["username"], password=attrs["password"])
        if getattr(request, "axes_locked_out", False):
            raise ApiError(ACCOUNT_LOCKED, lockout_message(), status.HTTP_429_TOO_MANY_REQUESTS)
        if user is None or not user.is_active:
            raise serializers.ValidationError("Wrong username or password.", code="invalid_credentials")
        attrs["user"] = user
        return attrs


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "role"]
        read_only_fields = ["id", "username"]
