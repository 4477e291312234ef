"""The login page, throttled: too many wrong passwords for one username from one address and
the form refuses (429) until the window passes, even the right password (services/sign_in)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpResponse

from review.services.sign_in import (
    SignInRefused,
    check_sign_in_allowed,
    clear_sign_in_failures,
    client_address,
    record_sign_in_failure,
)


class ThrottledAuthenticationForm(AuthenticationForm):
    refused: SignInRefused | None = None

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        address = client_address(self.request) if self.request else ""
        try:
            check_sign_in_allowed(username=username, address=address)
        except SignInRefused as refused:
            self.refused = refused
            raise ValidationError(str(refused), code="throttled") from refused
        try:
            cleaned = super().clean()
        except ValidationError:
            if self.cleaned_data.get("password"):
                record_sign_in_failure(username=username, address=address)
            raise
        clear_sign_in_failures(username=username, address=address)
        return cleaned


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        refused = getattr(form, "refused", None)
        if refused is not None:
            response.status_code = 429
            response["Retry-After"] = str(refused.retry_after)
        return response
