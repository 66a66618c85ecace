"""Reads template.yaml and resolves what the local stack needs from it.

Nothing here lists tables, routes or variables by hand: they all come from the template, so the
local stack and the deployed stack cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"
# Values for the parameters that have no default in the template (each stage names its own in
# samconfig.toml); the local stack names its own here.
LOCAL_PARAMETERS = {"SenderEmail": "no-reply@assisti.local"}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !GetAtt …) as their long forms."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(document, dict)
    return document


@dataclass(frozen=True)
class Route:
    method: str  # "ANY" or an HTTP verb
    path: str  # API Gateway syntax: /admin/users/{user_id}, /files/{proxy+}

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", self.path)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(f"^{regex}$")

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers exact paths, then parameters, then greedy paths; then longer ones."""
        return ("+}" not in self.path, self.path.count("{") == 0, len(self.path))  # type: ignore[return-value]


@dataclass(frozen=True)
class QueueSource:
    """An SQS event source: the queue's ARN and the batch size."""

    queue_arn: str
    batch_size: int

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[1]


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    routes: list[Route] = field(default_factory=list)
    queues: list[QueueSource] = field(default_factory=list)
    package_type: str = "Zip"
    timeout: float = 3.0  # Lambda's own default
    memory_mb: int = 128  # Lambda's own default

    @property
    def asgi_app(self) -> str | None:
        """For a function run by the Lambda Web Adapter (its bootstrap wraps the handler script), the
        ASGI app its script serves, `module:attribute`; None for an ordinary handler."""
        if "AWS_LAMBDA_EXEC_WRAPPER" not in self.environment:
            return None
        return self.environment["ASSISTI_ASGI_APP"]


class LocalTemplate:
    """The template, with intrinsic functions resolved to local names and values."""

    def __init__(
        self, document: dict[str, Any], stage: str = "local", parameter_overrides: dict[str, str] | None = None
    ) -> None:
        self.document = document
        self.stage = stage
        self.resources: dict[str, dict[str, Any]] = document.get("Resources", {})
        self.conditions: dict[str, Any] = document.get("Conditions", {})
        self.parameters = {
            name: str(spec["Default"]) if "Default" in spec else LOCAL_PARAMETERS.get(name, "")
            for name, spec in document.get("Parameters", {}).items()
        }
        if "Stage" in self.parameters:
            self.parameters["Stage"] = stage  # names that embed the stage say where they run
        self.parameters.update(parameter_overrides or {})

    def physical_name(self, logical_id: str) -> str:
        return f"assisti-{self.stage}-{logical_id}"

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": f"assisti-{self.stage}",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.resources.get(name)
        if resource is None:
            raise KeyError(f"template: unknown reference {name}")
        if resource["Type"] == "AWS::S3::Bucket":
            return self.bucket_name(name)
        if resource["Type"] == "AWS::SQS::Queue":
            return f"http://sqs.{LOCAL_REGION}.localhost/{LOCAL_ACCOUNT}/{self.physical_name(name)}"
        return self.physical_name(name)

    def bucket_name(self, logical_id: str) -> str:
        """The template's BucketName if it sets one (resolved for the local stage), else a local name."""
        name = self.resources[logical_id].get("Properties", {}).get("BucketName")
        return str(self.resolve(name)).lower() if name else self.physical_name(logical_id).lower()

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self.resources[logical_id]["Type"]
        service = {"AWS::DynamoDB::Table": "dynamodb", "AWS::SQS::Queue": "sqs", "AWS::S3::Bucket": "s3"}.get(
            resource_type, "lambda"
        )
        kind = {"dynamodb": "table/", "sqs": "", "s3": "", "lambda": "function:"}[service]
        if attribute == "Arn":
            if service == "s3":
                return f"arn:aws:s3:::{self.bucket_name(logical_id)}"
            return f"arn:aws:{service}:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{kind}{self.physical_name(logical_id)}"
        return self.physical_name(logical_id)

    def condition(self, name: str) -> bool:
        """A named condition of the template, evaluated on the (local) parameter values."""
        return self._evaluate(self.conditions[name])

    def _evaluate(self, expression: Any) -> bool:
        """Fn::Equals, Fn::Not, Fn::And, Fn::Or and {"Condition": name}, as CloudFormation does."""
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, argument),) = expression.items()
            if key == "Condition":
                return self.condition(argument)
            if key == "Fn::Equals":
                left, right = (str(self.resolve(side)) for side in argument)
                return left == right
            if key == "Fn::Not":
                return not self._evaluate(argument[0])
            if key == "Fn::And":
                return all(self._evaluate(item) for item in argument)
            if key == "Fn::Or":
                return any(self._evaluate(item) for item in argument)
        raise ValueError(f"template: unsupported condition {expression!r}")

    def exists(self, logical_id: str) -> bool:
        """Whether the stack creates this resource: it has no Condition, or its condition holds."""
        name = self.resources[logical_id].get("Condition")
        return name is None or self.condition(name)

    def resolve(self, value: Any) -> Any:
        """Resolves Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split and Fn::If (on the
        template's conditions)."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                return self._get_att(*argument)
            if key == "Fn::Join":
                return argument[0].join(str(self.resolve(part)) for part in argument[1])
            if key == "Fn::If":
                return self.resolve(argument[1] if self.condition(argument[0]) else argument[2])
            if key == "Fn::Select":
                return self.resolve(self.resolve(argument[1])[int(self.resolve(argument[0]))])
            if key == "Fn::Split":
                return str(self.resolve(argument[1])).split(argument[0])
            if key == "Fn::Sub":
                template, variables = (argument, {}) if isinstance(argument, str) else argument
                return re.sub(r"\$\{([^}]+)\}", lambda match: self._sub_variable(match.group(1), variables), template)
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub_variable(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(self.resolve(variables[name]))
        if "." in name and not name.startswith("AWS::"):
            return self._get_att(*name.split(".", 1))
        return self._ref(name)

    def shared_environment(self) -> dict[str, str]:
        """Every function's variables in one dict, for code that runs several functions in one
        process (the tests and the benchmarks); the local stack gives each function its own."""
        merged: dict[str, str] = {}
        for function in self.functions():
            merged.update(function.environment)
        return merged

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        """The resources of these types that the stack creates (their Condition, if any, holds)."""
        return {name: spec for name, spec in self.resources.items() if spec["Type"] in types and self.exists(name)}

    def functions(self) -> list[Function]:
        globals_ = self.document.get("Globals", {}).get("Function", {})
        global_env = globals_.get("Environment", {}).get("Variables", {})
        result = []
        for logical_id, spec in self.of_type("AWS::Serverless::Function").items():
            properties = spec.get("Properties", {})
            variables = {**global_env, **properties.get("Environment", {}).get("Variables", {})}
            environment = {name: str(self.resolve(value)) for name, value in variables.items()}
            package_type = properties.get("PackageType", "Zip")
            if package_type == "Image":
                # The image's code is the Dockerfile's folder; its handler is the image's command.
                metadata = spec.get("Metadata", {})
                code_uri = str(Path(metadata.get("DockerContext", ".")) / Path(metadata["Dockerfile"]).parent)
                handler = properties["ImageConfig"]["Command"][0]
            else:
                code_uri, handler = properties["CodeUri"], properties["Handler"]
            function = Function(
                logical_id,
                ROOT / code_uri,
                handler,
                environment,
                package_type=package_type,
                timeout=float(properties.get("Timeout", globals_.get("Timeout", 3))),
                memory_mb=int(properties.get("MemorySize", globals_.get("MemorySize", 128))),
            )
            for event in properties.get("Events", {}).values():
                event_properties = event.get("Properties", {})
                if event.get("Type") == "HttpApi":
                    function.routes.append(
                        Route(event_properties.get("Method", "ANY").upper(), event_properties.get("Path", "/{proxy+}"))
                    )
                elif event.get("Type") == "SQS":
                    function.queues.append(
                        QueueSource(
                            str(self.resolve(event_properties["Queue"])), int(event_properties.get("BatchSize", 10))
                        )
                    )
            result.append(function)
        return result
