"""Request and response schemas of /auth (the user family lives in ``shared.auth.users``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from shared.auth.principal import Role
from shared.json_schema import not_null, some_field

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,50}$"
MAX_EMAIL_LENGTH = 254
MAX_LOGIN_IDENTIFIER_LENGTH = 320
# Opaque refresh tokens are 43 characters. Any other string up to the bearer-token limit
# is simply a wrong credential (401); only absurd sizes are a validation error.
MAX_REFRESH_TOKEN_LENGTH = 8192

# A deliberately strict address syntax (no quoted local parts, no IP-literal domains):
# dot-atom local part, then at least two DNS labels with an alphabetic or punycode TLD.
_EMAIL = re.compile(
    r"^(?=.{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$"
)

Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
RefreshTokenText = Annotated[str, Field(min_length=1, max_length=MAX_REFRESH_TOKEN_LENGTH)]


def normalise_email(value: str) -> str:
    """The address with its domain lower-cased; raises ValueError when it is not valid."""
    if len(value) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(value):
        raise ValueError("must be a valid email address")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def is_valid_email(value: str) -> bool:
    try:
        normalise_email(value)
    except ValueError:
        return False
    return True


class UserCreate(BaseModel):
    """POST /auth/register."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        pattern=USERNAME_PATTERN,
        description="3 to 50 characters from A-Z, a-z, 0-9, '_', '.', '-'; unique case-insensitively",
    )
    email: str = Field(
        max_length=MAX_EMAIL_LENGTH,
        description="a valid email address, unique",
        json_schema_extra={"format": "email"},
    )
    password: Password = Field(description=f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        return normalise_email(value)

    @field_validator("password")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be only whitespace")
        return value


class LoginRequest(BaseModel):
    """POST /auth/login: JSON, or the OAuth2 password-grant form fields."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        min_length=1, max_length=MAX_LOGIN_IDENTIFIER_LENGTH, description="username (or email)"
    )
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    # OAuth2 password-grant form fields (RFC 6749 §4.3.2); accepted and otherwise ignored.
    grant_type: Literal["password"] | None = None
    scope: str | None = Field(default=None, max_length=1024)
    client_id: str | None = Field(default=None, max_length=256)
    client_secret: str | None = Field(default=None, max_length=256)


class _PasswordGrantFields(BaseModel):
    """The OAuth2 password grant's form fields (RFC 6749 §4.3.2). A form cannot send null, so
    the optional ones are plain strings."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        min_length=1, max_length=MAX_LOGIN_IDENTIFIER_LENGTH, description="username (or email)"
    )
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    scope: str = Field(default="", max_length=1024, description="accepted and ignored")
    client_id: str = Field(default="", max_length=256, description="accepted and ignored")
    client_secret: str = Field(default="", max_length=256, description="accepted and ignored")


class LoginForm(_PasswordGrantFields):
    """The form ``POST /auth/login`` still accepts from older clients (``grant_type`` may be
    left out); deprecated in favour of ``POST /auth/oauth/token``."""

    grant_type: Literal["password"] = "password"


class PasswordGrant(_PasswordGrantFields):
    """POST /auth/oauth/token, the OAuth2 token endpoint: the password grant as
    ``application/x-www-form-urlencoded`` (RFC 6749 §4.3.2; ``grant_type`` is required)."""

    grant_type: Literal["password"]

    def as_login(self) -> LoginRequest:
        return LoginRequest(username=self.username, password=self.password)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="access token lifetime in seconds")


class RefreshRequest(BaseModel):
    """POST /auth/refresh."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: RefreshTokenText


class LogoutRequest(BaseModel):
    """POST /auth/logout."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: RefreshTokenText


class UserUpdate(BaseModel):
    """PATCH /auth/users/{user_id} (admin only); at least one field."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=some_field)

    role: Role | None = Field(default=None, json_schema_extra=not_null)
    is_active: bool | None = Field(default=None, json_schema_extra=not_null)

    @field_validator("role", "is_active", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null; omit the field to leave it unchanged")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(include=self.model_fields_set)
