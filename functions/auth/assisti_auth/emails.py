"""The texts of the emails auth sends. Subjects never contain the code."""

from __future__ import annotations

from dataclasses import dataclass

MINUTES = 10


@dataclass(frozen=True)
class Email:
    kind: str
    subject: str
    text: str


def sign_up_code(code: str) -> Email:
    return Email(
        "sign_up_code",
        "Confirm your Assisti account",
        f"Your Assisti confirmation code is {code}.\n\nIt expires in {MINUTES} minutes. "
        "If you did not sign up, ignore this email.",
    )


def already_registered() -> Email:
    return Email(
        "already_registered",
        "Someone tried to sign up with your email",
        "Somebody tried to create an Assisti account with this address, which already has one.\n\n"
        "If it was you, sign in instead, or use 'forgot password'. If not, you can ignore this email: "
        "your account is unchanged.",
    )


def sign_in_code(code: str) -> Email:
    return Email(
        "sign_in_code",
        "Your Assisti sign-in code",
        f"Your Assisti sign-in code is {code}.\n\nIt expires in {MINUTES} minutes. "
        "If you did not try to sign in, change your password.",
    )


def reset_code(code: str) -> Email:
    return Email(
        "reset_code",
        "Reset your Assisti password",
        f"Your Assisti password reset code is {code}.\n\nIt expires in {MINUTES} minutes. "
        "If you did not ask for it, ignore this email.",
    )


def password_changed() -> Email:
    return Email(
        "password_changed",
        "Your Assisti password was changed",
        "The password of your Assisti account was just changed, and every other device was signed out.\n\n"
        "If this was not you, reset your password now with 'forgot password', then review your "
        "signed-in devices and security events in the app.",
    )


def password_reset() -> Email:
    return Email(
        "password_reset",
        "Your Assisti password was reset",
        "The password of your Assisti account was just reset with an emailed code, and every device was "
        "signed out.\n\nIf this was not you, someone can read your email: secure your mailbox first, then "
        "reset your Assisti password again and turn on two-factor sign-in.",
    )


def two_factor_disabled() -> Email:
    return Email(
        "two_factor_disabled",
        "Two-factor sign-in was turned off",
        "Two-factor sign-in was just turned off for your Assisti account: a password alone now signs in.\n\n"
        "If this was not you, reset your password now with 'forgot password', turn two-factor sign-in "
        "back on, and sign out your other devices.",
    )
