"""Account endpoints: register, login (token), a browser session, logout, me, and admin role management.

Register and login answer ``{"token", "expiry", "user"}``: the API token (``Authorization: Token
<token>``, see tokens.py) is shown only there; the phone uses it. The browser (web map, links opened
from it) signs in with ``/auth/session/`` instead: a Django session cookie (HttpOnly, SameSite=Lax,
Secure unless ``DAWN_SECURE_COOKIES=0``) and CSRF on every unsafe method, the sign-in included. Both
sign-ins go through the same throttle (scope ``auth``) and the same lockout (django-axes). Logout
revokes the token it came with, or ends the session it came with.
"""
from __future__ import annotations

from django.contrib.auth import login as start_session
from django.contrib.auth import logout as end_session
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
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
        """Revokes the token the request came with, or ends the browser session it came with."""
        if isinstance(request.auth, AuthToken):
            revoke_token(request.auth)
        else:
            end_session(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


SessionAnswer = inline_serializer("SessionAnswer", {
    "authenticated": serializers.BooleanField(),
    "user": UserSerializer(allow_null=True),
})


def session_answer(request, status_code: int = status.HTTP_200_OK) -> Response:
    user = request.user
    return Response({"authenticated": user.is_authenticated,
                     "user": UserSerializer(user).data if user.is_authenticated else None}, status=status_code)


@method_decorator(ensure_csrf_cookie, name="get")
class SessionView(APIView):
    """The browser's sign-in: ``GET`` says who is signed in and sets the ``csrftoken`` cookie; ``POST``
    (username, password; header ``X-CSRFToken``) starts a session; ``DELETE`` (``X-CSRFToken``) ends it.
    No token is issued: the session cookie is HttpOnly, so scripts never hold a credential.
    A sign-in without a valid CSRF token is ``403 permission_denied`` before the password is checked."""

    permission_classes = [AllowAny]
    authentication_classes = [SessionAuthentication]
    throttle_scope = "auth"

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(responses={200: SessionAnswer})
    def get(self, request):
        return session_answer(request)

    @extend_schema(request=LoginSerializer, responses={
        200: SessionAnswer, 400: OpenApiResponse(description="invalid_credentials"),
        403: OpenApiResponse(description="permission_denied: CSRF token missing or wrong"),
        429: OpenApiResponse(description="account_locked (too many failures for the account or from the "
                                         "client address) or throttled")})
    def post(self, request):
        SessionAuthentication().enforce_csrf(request)  # also when nobody is signed in: no login CSRF
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        start_session(request._request, serializer.validated_data["user"])  # new session key and CSRF token
        request.user = serializer.validated_data["user"]
        return session_answer(request)

    @extend_schema(request=None, responses={204: None,
                                            403: OpenApiResponse(description="permission_denied: CSRF")})
    def delete(self, request):
        if request.user.is_authenticated:  # SessionAuthentication checked CSRF
            end_session(request._request)
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
