"""The stack's wiring, read from template.yaml (never written a second time).

``Wiring.load`` evaluates the template the way CloudFormation would for a local "deployment":
parameters take their defaults (or overrides), pseudo parameters get local values, intrinsic
functions (Ref, GetAtt, Sub, Select, Split, Join, If, Equals, Not, And, Or) are resolved, and
every resource gets a physical name. What the local stack needs comes out as plain data: the
functions with their resolved environment, the S3 notifications with their filters, the
EventBridge rules with their patterns, the API routes and the schedules. A wrong filter or
pattern in the template therefore breaks the local stack exactly as it would break AWS.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
LOCAL_ACCOUNT = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...) turned into long form."""


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"  # !Condition's long form is "Condition"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct)


def read_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


class WiringError(RuntimeError):
    """The template uses something the local stack cannot evaluate."""


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    timeout: int
    environment: dict[str, str]
    arn: str


@dataclass
class S3Notification:
    function: str  # logical id
    bucket: str  # physical name
    events: list[str]
    filter_rules: list[dict[str, str]]
    id: str


@dataclass
class EventRule:
    function: str
    name: str
    pattern: dict[str, Any]


@dataclass
class ApiRoute:
    function: str
    method: str
    path: str  # /models/{model}/predictions


@dataclass
class Schedule:
    function: str
    expression: str
    name: str


@dataclass
class Wiring:
    stack: str
    region: str
    account: str
    parameters: dict[str, str]
    physical: dict[str, str]
    resources: dict[str, dict[str, Any]]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    notifications: list[S3Notification] = field(default_factory=list)
    rules: list[EventRule] = field(default_factory=list)
    routes: list[ApiRoute] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    stage: str = "v1"
    evaluate: Callable[[Any], Any] = field(default=lambda node: node, repr=False)
    """CloudFormation's intrinsic functions and conditions, resolved for this deployment."""

    @classmethod
    def load(
        cls,
        stack: str = "sagedrop-local",
        region: str = "us-east-1",
        overrides: dict[str, str] | None = None,
        template: dict[str, Any] | None = None,
        account: str = LOCAL_ACCOUNT,
    ) -> Wiring:
        template = template or read_template()
        evaluator = _Evaluator(template, stack, region, account, overrides or {})
        wiring = cls(
            stack=stack,
            region=region,
            account=account,
            parameters=evaluator.parameters,
            physical=evaluator.physical,
            resources=template.get("Resources", {}),
            evaluate=evaluator.value,
        )
        globals_ = template.get("Globals", {}).get("Function", {})
        for logical_id, resource in wiring.resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            props = {**globals_, **resource.get("Properties", {})}
            env = dict(evaluator.value(globals_.get("Environment", {}).get("Variables", {})))
            env.update(evaluator.value(resource["Properties"].get("Environment", {}).get("Variables", {})))
            name = evaluator.physical[logical_id]
            wiring.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                name=name,
                code_dir=ROOT / str(props["CodeUri"]),
                handler=str(props.get("Handler", "app.handler")),
                timeout=int(evaluator.value(props.get("Timeout", 3))),
                environment={k: str(v) for k, v in env.items()},
                arn=f"arn:aws:lambda:{region}:{account}:function:{name}",
            )
            for event_id, event in resource["Properties"].get("Events", {}).items():
                wiring._add_event(logical_id, event_id, event, evaluator)
        api = next((r for r in wiring.resources.values() if r.get("Type") == "AWS::Serverless::Api"), None)
        if api is not None:
            wiring.stage = str(evaluator.value(api["Properties"].get("StageName", "Prod")))
        return wiring

    def _add_event(self, function: str, event_id: str, event: dict[str, Any], evaluator: _Evaluator) -> None:
        kind = event.get("Type")
        props = evaluator.value(event.get("Properties", {}))
        if kind == "S3":
            bucket = props["Bucket"]
            events = props["Events"] if isinstance(props["Events"], list) else [props["Events"]]
            rules = props.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            self.notifications.append(S3Notification(function, bucket, events, rules, f"{function}{event_id}"))
        elif kind in ("EventBridgeRule", "CloudWatchEvent"):
            self.rules.append(EventRule(function, f"{self.stack}-{function}{event_id}", props["Pattern"]))
        elif kind == "Api":
            self.routes.append(ApiRoute(function, props["Method"].upper(), props["Path"]))
        elif kind in ("Schedule", "ScheduleV2"):
            self.schedules.append(Schedule(function, props["ScheduleExpression"], f"{function}{event_id}"))
        else:
            raise WiringError(f"{function}.Events.{event_id}: event type {kind!r} is not emulated locally")

    def function_for_arn(self, arn: str) -> FunctionSpec | None:
        return next((f for f in self.functions.values() if f.arn == arn), None)

    def resources_of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == kind}


def _lower_suffix(stack: str, logical_id: str) -> str:
    return hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:12]


class _Evaluator:
    """Just enough of CloudFormation's intrinsic functions for a local deployment."""

    def __init__(self, template: dict[str, Any], stack: str, region: str, account: str, overrides: dict[str, str]):
        self.template = template
        self.stack = stack
        self.region = region
        self.account = account
        stack_uuid = hashlib.sha256(stack.encode()).hexdigest()
        uuid = f"{stack_uuid[:8]}-{stack_uuid[8:12]}-{stack_uuid[12:16]}-{stack_uuid[16:20]}-{stack_uuid[20:32]}"
        self.pseudo = {
            "AWS::StackName": stack,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/{uuid}",
            "AWS::NoValue": None,
        }
        self.parameters: dict[str, str] = {}
        for name, spec in template.get("Parameters", {}).items():
            value = overrides.get(name, spec.get("Default"))
            if value is None:
                raise WiringError(f"parameter {name} has no default: pass it as an override")
            self.parameters[name] = str(value)
        unknown = set(overrides) - set(self.parameters)
        if unknown:
            raise WiringError(f"unknown parameter overrides: {', '.join(sorted(unknown))}")
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)
        self.physical: dict[str, str] = {}
        for logical_id, resource in template.get("Resources", {}).items():
            self.physical[logical_id] = self._physical_name(logical_id, resource)

    def _physical_name(self, logical_id: str, resource: dict[str, Any]) -> str:
        kind = resource.get("Type", "")
        props = resource.get("Properties", {})
        explicit = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::IAM::Role": "RoleName",
            "AWS::Serverless::Function": "FunctionName",
        }.get(kind)
        if explicit and explicit in props:
            return str(self.value(props[explicit]))
        suffix = _lower_suffix(self.stack, logical_id).upper()
        name = f"{self.stack}-{logical_id}-{suffix}"
        if kind == "AWS::S3::Bucket":
            return name.lower()[:63]
        return name[:64]

    # ---- evaluation ---------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        """A named condition, evaluated once (conditions may name other conditions, in any order)."""
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template.get("Conditions", {})[name]))
        return self.conditions[name]

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key.startswith("Fn::") or key == "Condition":
                return self.function(key, arg)
        return {k: self.value(v) for k, v in node.items()}

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resources = self.template.get("Resources", {})
        if name in resources:
            return self.ref_resource(name, resources[name])
        generated = self._generated(name)
        if generated is not None:
            return generated
        raise WiringError(f"Ref to unknown name {name!r}")

    def _generated(self, name: str) -> str | None:
        # Resources SAM generates, e.g. <Api>ApiKey.
        for logical_id, resource in self.template.get("Resources", {}).items():
            if resource.get("Type") == "AWS::Serverless::Api" and name == f"{logical_id}ApiKey":
                return f"local-{_lower_suffix(self.stack, name)}"
        return None

    def ref_resource(self, logical_id: str, resource: dict[str, Any]) -> str:
        physical = self.physical[logical_id]
        kind = resource.get("Type")
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{self.account}:{physical}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{physical}"
        if kind == "AWS::Serverless::Api":
            return _lower_suffix(self.stack, logical_id)[:10]
        return physical

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.template.get("Resources", {}).get(logical_id)
        if resource is None:
            raise WiringError(f"GetAtt of unknown resource {logical_id!r}")
        physical = self.physical[logical_id]
        kind = resource.get("Type")
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{self.region}:{self.account}:table/{physical}",
            "AWS::SNS::Topic": f"arn:aws:sns:{self.region}:{self.account}:{physical}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{self.region}:{self.account}:{physical}",
            "AWS::IAM::Role": f"arn:aws:iam::{self.account}:role/{physical}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{self.region}:{self.account}:function:{physical}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{self.region}:{self.account}:log-group:{physical}:*",
            "AWS::Cognito::UserPool": f"arn:aws:cognito-idp:{self.region}:{self.account}:userpool/{physical}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute in ("TopicName", "QueueName"):
            return physical
        raise WiringError(f"GetAtt {logical_id}.{attribute} is not emulated locally")

    def function(self, key: str, arg: Any) -> Any:
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, attribute)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))
            return self.substitute(text, variables)
        if key == "Fn::Select":
            index, items = self.value(arg[0]), self.value(arg[1])
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = arg[0], self.value(arg[1])
            return str(text).split(separator)
        if key == "Fn::Join":
            separator, items = arg[0], self.value(arg[1])
            return separator.join(str(item) for item in items if item is not None)
        if key == "Fn::If":
            condition, yes, no = arg
            return self.value(yes) if self.condition(condition) else self.value(no)
        if key == "Fn::Equals":
            return str(self.value(arg[0])) == str(self.value(arg[1]))
        if key == "Fn::Not":
            return not self.value(arg[0])
        if key == "Fn::And":
            return all(self.value(a) for a in arg)
        if key == "Fn::Or":
            return any(self.value(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        raise WiringError(f"{key} is not emulated locally")

    def substitute(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)
