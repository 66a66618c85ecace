"""Request and response bodies: bounded fields, normalised emails, the password policy."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from assisti_common.text import BLANK, WHITESPACE, Text

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
    if value.strip(WHITESPACE) != value or not value:
        raise ValueError("must not start or end with spaces")
    if value.lower() in COMMON_PASSWORDS:
        raise ValueError("is too common")
    return value


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in word)


# check_password as JSON Schema says it: no space first or last, and none of COMMON_PASSWORDS in any case.
_COMMON = "|".join(_any_case(word) for word in sorted(COMMON_PASSWORDS))
NEW_PASSWORD_SCHEMA = {"not": {"pattern": f"^{BLANK}|{BLANK}$|^(?:{_COMMON})$"}}

# email_validator refuses special-use domains, which cannot receive mail (SPECIAL_USE_DOMAIN_NAMES).
_SPECIAL_USE = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
EMAIL_SCHEMA = {"format": "email", "not": {"pattern": f"@(?:[^@]*\\.)?(?:{_SPECIAL_USE})$"}}

EmailAddress = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(normalize_email),
    Field(
        description="An address that can receive mail: not at a special-use domain (.test, .local, .invalid …).",
        json_schema_extra=EMAIL_SCHEMA,
    ),
]
NewPassword = Annotated[
    str,
    StringConstraints(min_length=8, max_length=256),
    AfterValidator(check_password),
    Field(
        description="8 to 256 characters, no space first or last, not one of the most common passwords.",
        json_schema_extra=NEW_PASSWORD_SCHEMA,
    ),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Code = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Name = Annotated[str, Text(max_length=100)]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.]{3,30}$")]
Bio = Annotated[str, StringConstraints(max_length=1000)]


class Body(BaseModel):
    # Strict: a JSON value of another type than the document says is a 422, never coerced (0 is no false).
    model_config = ConfigDict(extra="forbid", strict=True)


class SignUpIn(Body):
    email: EmailAddress
    password: NewPassword
    name: Name = ""


class ConfirmSignUpIn(Body):
    email: EmailAddress
    code: Code
    password: NewPassword = Field(
        description="The password again. The account gets this one: a stranger who signed up the same "
        "address in between cannot slip theirs in with the newest code."
    )


class EmailIn(Body):
    email: EmailAddress


class SignInIn(Body):
    email: EmailAddress
    password: Password


class ChallengeResponseIn(Body):
    # Exactly one answer, as _one_answer checks (null is no answer).
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["code"], "properties": {"code": {"type": "string"}}},
                {"required": ["password"], "properties": {"password": {"type": "string"}}},
            ]
        }
    )

    session: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    code: Code | None = Field(None, description="For an EMAIL_OTP challenge: the emailed code.")
    password: Password | None = Field(None, description="For a PASSWORD challenge (two-factor): the password.")

    @model_validator(mode="after")
    def _one_answer(self) -> ChallengeResponseIn:
        if (self.code is None) == (self.password is None):
            raise ValueError("give either code (EMAIL_OTP) or password (PASSWORD), not both")
        return self


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


class ReauthIn(Body):
    password: Password | None = Field(
        None, description="Needed unless this session signed in within the last few minutes."
    )


class TwoFactorIn(ReauthIn):
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
    challenge: Literal["EMAIL_OTP", "PASSWORD"] = Field(
        "EMAIL_OTP",
        description="EMAIL_OTP: answer with the emailed code. PASSWORD: two-factor after an emailed code, "
        "answer with the password.",
    )
    session: str
    delivery: Delivery | None = Field(None, description="Where the code went (EMAIL_OTP only).")


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


class SessionOut(BaseModel):
    id: str
    device: str = Field(description="A label from the user agent of the sign-in, e.g. 'Safari on iPhone'.")
    ip: str | None
    created_at: datetime
    last_used_at: datetime | None = Field(description="The sign-in, or the last token refresh since.")
    current: bool = Field(description="True for the session of the token that asked.")


class SessionListOut(BaseModel):
    sessions: list[SessionOut]


class SignedOutOut(BaseModel):
    signed_out: int = Field(description="How many other devices were signed out.")


class SecurityEventOut(BaseModel):
    id: str
    type: str = Field(examples=["sign_in", "sign_in_failed", "password_changed", "session_revoked"])
    method: str | None = Field(description="How: password, email_code, a code's purpose …")
    occurred_at: datetime
    ip: str | None
    user_agent: str | None
    session_id: str | None
    actor_id: str | None = Field(description="The staff user who did it, when it was not the user.")


class SecurityEventPageOut(BaseModel):
    events: list[SecurityEventOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null at the end.")


def mask_email(email: str) -> str:
    """`a***@e***.com`: shows where the code went without repeating the address."""
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    return f"{local[:1]}***@{(host or tld)[:1]}***{dot}{tld if host else ''}"
