"""Account endpoints: register, login (token), logout, me, and admin role management.

Register and login answer ``{"token", "expiry", "user"}``: the API token (``Authorization: Token
<token>``, see tokens.py) is shown only there. Logout revokes the token it came with.
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from server.common.permissions import IsAdminRole

from .models import User
from .serializers import LoginSerializer, RegisterSerializer, RoleSerializer, UserSerializer
from .tokens import issue_token, revoke_token

TokenAnswer = inline_serializer("TokenAnswer", {
    "token": serializers.CharField(help_text="API token; send it as 'Authorization: Token <token>'."),
    "expiry": serializers.DateTimeField(help_text="When the token expires unless used again (each use "
                                                  "moves it forward, up to a maximum age)."),
    "user": UserSerializer(),
})


def token_response(user: User, status_code: int) -> Response:
    token, expiry = issue_token(user)
    return Response({"token": token, "expiry": expiry, "user": UserSerializer(user).data}, status=status_code)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"

    @extend_schema(request=RegisterSerializer, responses={201: TokenAnswer})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return token_response(serializer.save(), status.HTTP_201_CREATED)


class LoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"

    @extend_schema(request=LoginSerializer, responses={
        200: TokenAnswer, 400: OpenApiResponse(description="invalid_credentials"),
        429: OpenApiResponse(description="account_locked (too many failures for the account or from the "
                                         "client address) or throttled")})
    def post(self, request):
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return token_response(serializer.validated_data["user"], status.HTTP_200_OK)


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        """Revokes the token the request came with (a session sign-in has none to revoke)."""
        if isinstance(request.auth, AuthToken):
            revoke_token(request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(generics.RetrieveUpdateAPIView):
    serializer_class = UserSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "patch"]

    def get_object(self) -> User:
        return self.request.user


class UserAdminViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                       viewsets.GenericViewSet):
    """Admins list users and change their role."""

    queryset = User.objects.order_by("id")
    serializer_class = RoleSerializer
    permission_classes = [IsAdminRole]
    http_method_names = ["get", "patch"]
