"""/api/token/: a token for a username and password, throttled like the login page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from review.api.parsers import BoundedJSONParser
from review.services.sign_in import (
    SignInRefused,
    check_sign_in_allowed,
    clear_sign_in_failures,
    client_address,
    record_sign_in_failure,
)


class SignInThrottled(Throttled):
    """Throttled with our message as it is: DRF's appends "Expected available in N seconds."
    to a detail that already says how long; Retry-After still comes from `wait`."""

    def __init__(self, *, wait: float, detail: str) -> None:
        super().__init__(wait=None, detail=detail)
        self.wait = wait


class ThrottledObtainAuthToken(ObtainAuthToken):
    """DRF's token view with the sign-in failure limit (429 with Retry-After, even for the right
    password) and a request rate per address (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
    parser_classes = [parsers.FormParser, parsers.MultiPartParser, BoundedJSONParser]

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: OpenApiResponse(description="Wrong username or password."),
            429: OpenApiResponse(
                description="Too many failed sign-ins for this username from this address, or "
                "too many requests: wait Retry-After seconds."
            ),
        },
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A token for a username and password; refused for a while after repeated failures."""
        data = request.data if isinstance(request.data, Mapping) else {}
        username = str(data.get("username") or "")
        address = client_address(request)
        try:
            check_sign_in_allowed(username=username, address=address)
        except SignInRefused as refused:
            raise SignInThrottled(wait=refused.retry_after, detail=str(refused)) from refused
        serializer = self.get_serializer(data=data)
        if not serializer.is_valid():
            if data.get("password"):
                record_sign_in_failure(username=username, address=address)
            return Response(serializer.errors, status=status.HTTP_400_BAD_REQUEST)
        clear_sign_in_failures(username=username, address=address)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
