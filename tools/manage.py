"""Operator commands that run outside Lambda, with direct table access.

    python -m tools.manage make-staff EMAIL                      # the running local stack
    python -m tools.manage make-staff EMAIL --stack assisti-dev  # a deployed stack (AWS creds)
    python -m tools.manage make-staff EMAIL --revoke             # takes staff away

`make staff EMAIL=… [STACK=…]` wraps it. Operator tooling: no Lambda ships it.
"""

from __future__ import annotations

import argparse
import os
import sys

TABLE_OUTPUTS = {
    "UsersTableName": "USERS_TABLE",
    "UserHandlesTableName": "USER_HANDLES_TABLE",
    "AuthCodesTableName": "AUTH_CODES_TABLE",
    "SessionsTableName": "SESSIONS_TABLE",
}


def _configure_local(aws_port: int) -> None:
    from local.stack import local_aws_environment
    from local.template import LocalTemplate, load_template

    template = LocalTemplate(load_template())
    auth = next(function for function in template.functions() if function.logical_id == "AuthFunction")
    os.environ.update({name: value for name, value in auth.environment.items() if name.endswith("_TABLE")})
    os.environ.update(local_aws_environment(f"http://127.0.0.1:{aws_port}"))


def _configure_stack(stack_name: str) -> None:
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    os.environ.update({variable: outputs[key] for key, variable in TABLE_OUTPUTS.items()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make_staff = commands.add_parser("make-staff", help="give (or with --revoke, take) staff rights")
    make_staff.add_argument("email")
    make_staff.add_argument("--revoke", action="store_true")
    make_staff.add_argument("--stack", help="a deployed stack's name; without it, the local stack")
    make_staff.add_argument("--aws-port", type=int, default=int(os.environ.get("LOCAL_AWS_PORT", "4566")))
    args = parser.parse_args(argv)

    if args.stack:
        _configure_stack(args.stack)
    else:
        _configure_local(args.aws_port)
    # After the environment is set: settings are read once, at import.
    from assisti_auth import service
    from assisti_auth.schemas import normalize_email
    from assisti_common.errors import AppError

    try:
        user = service.set_staff(normalize_email(args.email), is_staff=not args.revoke)
    except (AppError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{user.email} ({user.id}) is_staff={user.is_staff}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
