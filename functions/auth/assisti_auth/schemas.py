"""Request and response bodies: bounded fields, normalised emails, the password policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# A few of the most common passwords: a policy that allows these allows nothing useful.
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyui",
        "qwerty123",
        "iloveyou",
        "11111111",
        "00000000",
        "abc12345",
        "letmein1",
        "welcome1",
        "passw0rd",
    }
)


def normalize_email(value: str) -> str:
    """Validates the syntax (no DNS) and lower-cases: emails are unique case-insensitively."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError("not a valid email address") from exc


def check_password(value: str) -> str:
    if value.strip() != value or not value:
        raise ValueError("must not start or end with spaces")
    if value.lower() in COMMON_PASSWORDS:
        raise ValueError("is too common")
    return value


EmailAddress = Annotated[str, StringConstraints(max_length=254), AfterValidator(normalize_email)]
NewPassword = Annotated[str, StringConstraints(min_length=8, max_length=256), AfterValidator(check_password)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Code = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.]{3,30}$")]
Bio = Annotated[str, StringConstraints(max_length=1000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUpIn(Body):
    email: EmailAddress
    password: NewPassword
    name: Name = ""


class ConfirmSignUpIn(Body):
    email: EmailAddress
    code: Code


class EmailIn(Body):
    email: EmailAddress


class SignInIn(Body):
    email: EmailAddress
    password: Password


class ChallengeResponseIn(Body):
    session: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    code: Code


class RefreshIn(Body):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class SignOutIn(Body):
    all_devices: bool = False


class ConfirmForgotPasswordIn(Body):
    email: EmailAddress
    code: Code
    new_password: NewPassword


class ProfilePatchIn(Body):
    name: Name | None = None
    username: Username | None = None
    bio: Bio | None = None


class ChangePasswordIn(Body):
    current_password: Password
    new_password: NewPassword


class TwoFactorIn(Body):
    enabled: bool


class AdminUserPatchIn(Body):
    is_active: bool


class Delivery(BaseModel):
    medium: Literal["EMAIL"] = "EMAIL"
    destination: str


class CodeSentOut(BaseModel):
    message: str
    delivery: Delivery


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class ChallengeOut(BaseModel):
    challenge: Literal["EMAIL_OTP"] = "EMAIL_OTP"
    session: str
    delivery: Delivery


class MessageOut(BaseModel):
    message: str


class ProfileOut(BaseModel):
    bio: str
    created_at: datetime


class UserOut(BaseModel):
    id: str
    email: str
    username: str
    name: str
    date_joined: datetime
    is_active: bool
    is_verified: bool
    is_staff: bool
    two_factor_enabled: bool
    profile: ProfileOut


class UserPageOut(BaseModel):
    users: list[UserOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null at the end.")


def mask_email(email: str) -> str:
    """`a***@e***.com`: shows where the code went without repeating the address."""
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    return f"{local[:1]}***@{(host or tld)[:1]}***{dot}{tld if host else ''}"
