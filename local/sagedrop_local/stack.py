"""The local stack: emulated AWS on 127.0.0.1, the same handlers, the template's wiring.

``LocalStack.start`` starts moto's server on 127.0.0.1 (so the aws CLI and boto3 with an
endpoint URL work against it), deploys the template's resources into it (buckets, table, topic,
queue, role, bucket notifications, EventBridge rules), installs the local behaviour
(``emulator.LocalAws``), runs the functions through ``runner.LambdaRunner`` and serves the REST
API on 127.0.0.1, authorized as the template's ``AuthMode`` says (``authorizers.LocalAuth``: by default
SigV4-signed requests from two local principals, ``predictor`` and ``admin``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagedrop_local.apigateway import LocalApi
from sagedrop_local.authorizers import LocalAuth
from sagedrop_local.emulator import LocalAws
from sagedrop_local.runner import LambdaRunner
from sagedrop_local.wiring import Wiring

RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_seconds(expression: str) -> float | None:
    """Seconds between runs of a ``rate(...)`` expression (None for cron, run by hand)."""
    found = RATE.fullmatch(expression.strip())
    if not found:
        return None
    return int(found.group(1)) * UNIT_SECONDS[found.group(2).rstrip("s")]


class LocalStack:
    def __init__(
        self,
        *,
        stack: str = "sagedrop-local",
        region: str = "us-east-1",
        moto_port: int = 0,
        api_port: int | None = 0,
        overrides: dict[str, str] | None = None,
        template: dict[str, Any] | None = None,
        log: Callable[[str], None] = print,
        endpoint_delay: float = 1.0,
        schedules: bool = False,
        workdir: Path | None = None,
        quiet_functions: bool = True,
        function_log_level: str = "WARNING",
    ) -> None:
        self.log = log
        self.wiring = Wiring.load(stack, region, overrides, template)
        self.moto_port = moto_port
        self.api_port = api_port
        self.endpoint_delay = endpoint_delay
        self.run_schedules = schedules
        self.workdir = workdir
        self.quiet_functions = quiet_functions
        self.function_log_level = function_log_level
        self.api_key = "sd-" + secrets.token_urlsafe(24)
        self.api_key_id = self.wiring.physical.get("PredictionApi", "local") + "-key"
        self._server: Any = None
        self._saved_env: dict[str, str] | None = None
        self._stop = threading.Event()
        self.endpoint_url = ""
        self.api_url = ""
        self.runner: LambdaRunner
        self.aws: LocalAws
        self.api: LocalApi | None = None
        self.auth: LocalAuth | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> LocalStack:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one readable line per event, not per HTTP call
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        base_env = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": self.wiring.region,
            "AWS_REGION": self.wiring.region,
        }
        self._saved_env = {
            key: os.environ[key] for key in (*base_env, "AWS_PROFILE", "AWS_SESSION_TOKEN") if key in os.environ
        }
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.update(base_env)

        self.runner = LambdaRunner(self.wiring, base_env, log=self.log, on_dead_letter=self._dead_letter)
        if self.quiet_functions:
            # The functions' structured JSON logs and EMF metrics are for CloudWatch; locally the stack
            # prints one readable line per event instead (warnings and errors still show).
            for function in self.wiring.functions:
                self.runner.env_overrides[function] = {
                    "POWERTOOLS_LOG_LEVEL": self.function_log_level,
                    "POWERTOOLS_METRICS_DISABLED": "true",
                }
        self.aws = LocalAws(
            account=self.wiring.account,
            region=self.wiring.region,
            invoke_async=self.runner.invoke_async,
            function_for_arn=lambda arn: spec.logical_id if (spec := self.wiring.function_for_arn(arn)) else None,
            s3_client=lambda: self.client("s3"),
            log=self.log,
            endpoint_delay=self.endpoint_delay,
            workdir=self.workdir,
        )
        self.aws.install()
        try:
            self._deploy()
            self.runner.start()
            self.auth = LocalAuth.from_wiring(
                self.wiring,
                api_key=self.api_key,
                api_key_id=self.api_key_id,
                cognito=lambda: self.client("cognito-idp"),
            )
            if self.api_port is not None:
                self.api = LocalApi(self.wiring, self.runner.invoke, self.auth, log=self.log)
                port = self.api.start(port=self.api_port)
                self.api_url = f"http://127.0.0.1:{port}/{self.wiring.stage}"
            if self.run_schedules:
                for schedule in self.wiring.schedules:
                    threading.Thread(target=self._run_schedule, args=(schedule,), daemon=True).start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.api is not None:
            self.api.stop()
        if hasattr(self, "runner"):
            self.runner.stop()
        if hasattr(self, "aws"):
            self.aws.uninstall()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._saved_env is not None:
            for key in (
                "AWS_ENDPOINT_URL",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_DEFAULT_REGION",
                "AWS_REGION",
            ):
                os.environ.pop(key, None)
            os.environ.update(self._saved_env)
            self._saved_env = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- clients and names ---------------------------------------------------------------

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=self.wiring.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        )

    def physical(self, logical_id: str) -> str:
        return self.wiring.physical[logical_id]

    def credentials(self, principal: str = "admin") -> dict[str, str]:
        """Access key and secret of a local principal (``predictor`` or ``admin``; AuthMode=iam)."""
        if self.auth is None or principal not in self.auth.principals:
            raise KeyError(f"no local principal {principal!r} (AuthMode is {self.auth and self.auth.mode})")
        found = self.auth.principals[principal]
        return {"access_key": found.access_key, "secret_key": found.secret_key}

    @property
    def data_bucket(self) -> str:
        return self.physical("DataBucket")

    @property
    def registry_table(self) -> str:
        return self.physical("RegistryTable")

    # ---- deployment ----------------------------------------------------------------------

    def _deploy(self) -> None:
        wiring = self.wiring
        s3 = self.client("s3")
        for logical_id in wiring.resources_of_type("AWS::S3::Bucket"):
            bucket = wiring.physical[logical_id]
            s3.create_bucket(Bucket=bucket)
            props = wiring.resources[logical_id].get("Properties", {})
            if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        ddb = self.client("dynamodb")
        for logical_id, resource in wiring.resources_of_type("AWS::DynamoDB::Table").items():
            props = resource["Properties"]
            ddb.create_table(
                TableName=wiring.physical[logical_id],
                AttributeDefinitions=props["AttributeDefinitions"],
                KeySchema=props["KeySchema"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            )
        sns = self.client("sns")
        for logical_id in wiring.resources_of_type("AWS::SNS::Topic"):
            sns.create_topic(Name=wiring.physical[logical_id])
        sqs = self.client("sqs")
        for logical_id in wiring.resources_of_type("AWS::SQS::Queue"):
            sqs.create_queue(QueueName=wiring.physical[logical_id])
        iam = self.client("iam")
        for logical_id, resource in wiring.resources_of_type("AWS::IAM::Role").items():
            policy = resource["Properties"].get("AssumeRolePolicyDocument", {})
            iam.create_role(
                RoleName=wiring.physical[logical_id], AssumeRolePolicyDocument=json.dumps(policy, default=str)
            )

        by_bucket: dict[str, list[dict[str, Any]]] = {}
        for notification in wiring.notifications:
            config: dict[str, Any] = {
                "Id": notification.id,
                "LambdaFunctionArn": wiring.functions[notification.function].arn,
                "Events": notification.events,
            }
            if notification.filter_rules:
                config["Filter"] = {"Key": {"FilterRules": notification.filter_rules}}
            by_bucket.setdefault(notification.bucket, []).append(config)
        for bucket, configs in by_bucket.items():
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": configs}
            )
        events = self.client("events")
        for rule in wiring.rules:
            events.put_rule(Name=rule.name, EventPattern=json.dumps(rule.pattern), State="ENABLED")
            events.put_targets(
                Rule=rule.name, Targets=[{"Id": rule.function, "Arn": wiring.functions[rule.function].arn}]
            )
        self.log(
            f"stack    {wiring.stack}: {len(wiring.functions)} functions, {len(wiring.notifications)} bucket "
            f"notification(s), {len(wiring.rules)} rule(s), {len(wiring.routes)} route(s), "
            f"{len(wiring.schedules)} schedule(s) from template.yaml"
        )

    def _dead_letter(self, function: str, event: dict[str, Any], error: str) -> None:
        queue = next(iter(self.wiring.resources_of_type("AWS::SQS::Queue")), None)
        if queue is None:
            return
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=self.wiring.physical[queue])["QueueUrl"]
        body = {
            "requestContext": {"functionArn": self.wiring.functions[function].arn, "condition": "RetriesExhausted"},
            "responseContext": {"functionError": "Unhandled", "error": error},
            "requestPayload": event,
        }
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body, default=str))

    # ---- schedules -----------------------------------------------------------------------

    def scheduled_event(self) -> dict[str, Any]:
        """What EventBridge Scheduler sends a Lambda target when the schedule sets no input."""
        return {}

    def run_schedule_now(self, function: str = "CleanupFunction") -> Any:
        return self.runner.invoke(function, self.scheduled_event())

    def _run_schedule(self, schedule: Any) -> None:
        interval = schedule_seconds(schedule.expression)
        if interval is None:
            self.log(f"schedule {schedule.name}: {schedule.expression} is not a rate(); run it by hand")
            return
        while not self._stop.wait(interval):
            self.log(f"schedule {schedule.name} -> {schedule.function}")
            self.runner.invoke_async(schedule.function, self.scheduled_event())

    # ---- waiting -------------------------------------------------------------------------

    def registry_batches(self, model: str) -> list[dict[str, Any]]:
        """The model's batch scoring records, oldest first."""
        from sagedrop.registry import Registry

        return Registry(self.registry_table, self.client("dynamodb")).batches(model)

    def registry_item(self, model: str) -> dict[str, Any] | None:
        from sagedrop.registry import from_item

        item = (
            self.client("dynamodb")
            .get_item(
                TableName=self.registry_table,
                Key={"model": {"S": model}, "record": {"S": "MODEL"}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return from_item(item) if item else None

    def wait_for_status(
        self,
        model: str,
        statuses: tuple[str, ...],
        timeout: float = 120.0,
        progress: Callable[[dict[str, Any] | None], None] | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            item = self.registry_item(model)
            if progress is not None and item != last:
                progress(item)
            last = item
            if item is not None and item.get("status") in statuses:
                return item
            time.sleep(0.2)
        raise TimeoutError(f"{model} did not reach {' or '.join(statuses)} in {timeout:.0f} s; last: {last}")
