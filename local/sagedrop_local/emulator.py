"""What moto does not do, added on top of it for the local stack.

moto keeps the state of S3, SageMaker, EventBridge, CloudWatch, DynamoDB, SNS and SQS. This
module teaches it the behaviour sagedrop relies on, by patching moto's classes while the local
stack runs (and restoring them afterwards):

* S3 bucket notifications invoke the local Lambda functions (moto's own filter matching decides,
  from the notification configuration the local stack copied from template.yaml).
* EventBridge rules with Lambda targets invoke the local functions (moto's own pattern matcher).
* SageMaker training jobs really train, with the local algorithms, in a worker thread: InProgress,
  then Completed (model.tar.gz in S3, FinalMetricDataList) or Failed (FailureReason), emitting
  "SageMaker Training Job State Change" events shaped like AWS's.
* Endpoints move Creating -> InService (or Failed) after loading model.tar.gz; UpdateEndpoint moves
  Updating -> InService with a blue/green swap (or rolls back); each change emits "SageMaker Endpoint
  State Change". moto's gaps (UpdateEndpoint, names created twice, tags, raw InvokeEndpoint bodies)
  are fixed by :mod:`sagedrop_local.moto_gaps`, which the tests install too.
* InvokeEndpoint passes the raw body (RecordIO, images) to the local algorithm, which answers in
  its container's wire format for the Model's image tag and environment; the container's error
  statuses (and 500 for a failure inside the model server) become ModelError; each call counts in
  CloudWatch ``AWS/SageMaker`` ``Invocations`` with the EndpointName and VariantName dimensions.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sagedrop.algorithms import all_algorithms
from sagedrop_local import moto_gaps
from sagedrop_local.moto_gaps import EVENT_ENDPOINT_STATUS, Patch, epoch_ms, event_shape

REPOSITORY_TO_ALGORITHM = {repo: a.name for a in all_algorithms() for repo in a.image_repositories()}


def algorithm_of_image(image: str) -> str:
    repository = image.rsplit("/", 1)[-1].split(":", 1)[0]
    return REPOSITORY_TO_ALGORITHM.get(repository, repository)


class LocalAws:
    """Installs the behaviour above into moto for one local stack."""

    def __init__(
        self,
        *,
        account: str,
        region: str,
        invoke_async: Callable[[str, dict[str, Any]], None],
        function_for_arn: Callable[[str], str | None],
        s3_client: Callable[[], Any],
        log: Callable[[str], None] = print,
        endpoint_delay: float = 1.0,
        workdir: Path | None = None,
    ) -> None:
        self.account = account
        self.region = region
        self.invoke_async = invoke_async
        self.function_for_arn = function_for_arn
        self.s3_client = s3_client
        self.log = log
        self.endpoint_delay = endpoint_delay
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="sagedrop-local-"))
        self.predictors: dict[str, tuple[str, Any]] = {}  # endpoint -> (config name, predictor)
        self.threads: list[threading.Thread] = []
        self._patch = Patch()
        self._lock = threading.RLock()

    # ---- moto handles ------------------------------------------------------------------------

    @property
    def sagemaker(self) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[self.account][self.region]

    @property
    def events(self) -> Any:
        from moto.events.models import events_backends

        return events_backends[self.account][self.region]

    @property
    def cloudwatch(self) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[self.account][self.region]

    # ---- install / uninstall -----------------------------------------------------------------

    def install(self) -> None:
        moto_gaps.install(
            self._patch.set,
            moto_gaps.Hooks(
                endpoint_created=self._endpoint_created,
                endpoint_updating=self._endpoint_updating,
                transform_created=self._transform_created,
            ),
        )
        moto_gaps.install_invoke(
            self._patch.set,
            lambda name, body, content_type, accept: self._invoke(
                name, body, content_type or "application/octet-stream", accept
            ),
        )
        self._install_s3()
        self._install_rules()
        self._install_sagemaker()

    def _install_s3(self) -> None:
        import moto.s3.notifications as s3_notifications

        original_send_event = s3_notifications.send_event

        def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
            original_send_event(account_id, event_name, bucket, key)
            self._s3_notify(event_name, bucket, key)

        self._patch.set(s3_notifications, "send_event", send_event)

    def _install_rules(self) -> None:
        import moto.events.models as events_models

        local = self
        original_send_to_targets = events_models.Rule.send_to_targets

        def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
            if not rule.event_pattern.matches_event(original_event):
                return
            lambdas = [t for t in rule.targets if t["Arn"].startswith("arn:aws:lambda:")]
            others = [t for t in rule.targets if t not in lambdas]
            for target in lambdas:
                function = local.function_for_arn(target["Arn"])
                if function is not None:
                    local.log(f"event    {original_event['detail-type']} -> {function} (rule {rule.name})")
                    local.invoke_async(function, original_event)
            if others:
                saved, rule.targets = rule.targets, others
                try:
                    original_send_to_targets(rule, original_event, transform_input)
                finally:
                    rule.targets = saved

        self._patch.set(events_models.Rule, "send_to_targets", send_to_targets)

    def _install_sagemaker(self) -> None:
        """Training jobs that really train, and endpoints that forget their model when deleted."""
        import moto.sagemaker.models as sm_models

        local = self
        backend_cls = sm_models.SageMakerModelBackend
        original_create_job = backend_cls.create_training_job
        original_delete_endpoint = backend_cls.delete_endpoint

        def create_training_job(backend: Any, *args: Any, **kwargs: Any) -> Any:
            job = original_create_job(backend, *args, **kwargs)
            local._start_training(job)
            return job

        def delete_endpoint(backend: Any, endpoint_name: str) -> None:
            original_delete_endpoint(backend, endpoint_name)
            with local._lock:
                local.predictors.pop(endpoint_name, None)
            local.log(f"sagemaker endpoint {endpoint_name}: deleted")

        self._patch.set(backend_cls, "create_training_job", create_training_job)
        self._patch.set(backend_cls, "delete_endpoint", delete_endpoint)

    def _endpoint_created(self, backend: Any, endpoint: Any) -> None:
        endpoint.endpoint_status = "Creating"
        self.log(f"sagemaker endpoint {endpoint.endpoint_name}: Creating ({endpoint.endpoint_config_name})")
        self._spawn(self._bring_up, endpoint.endpoint_name, endpoint.endpoint_config_name, False)

    def _endpoint_updating(self, backend: Any, endpoint: Any, config: str) -> None:
        self.log(f"sagemaker endpoint {endpoint.endpoint_name}: Updating -> {config}")
        self._spawn(self._bring_up, endpoint.endpoint_name, config, True)

    def _transform_created(self, backend: Any, job: Any) -> None:
        job.transform_job_status, job.transform_end_time = "InProgress", None
        self._spawn(self._transform, job)

    def uninstall(self) -> None:
        self._patch.undo()

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"local-{target.__name__}")
        self.threads.append(thread)
        thread.start()

    # ---- S3 -> Lambda --------------------------------------------------------------------------

    def _s3_notify(self, event_name: Any, bucket: Any, key: Any) -> None:
        config = bucket.notification_configuration
        if config is None:
            return
        name = str(getattr(event_name, "value", event_name))
        for notification in config.cloud_function:
            if not notification.matches(event_name, key.name):
                continue
            function = self.function_for_arn(notification.arn)
            if function is None:
                continue
            from urllib.parse import quote_plus

            record = {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": self.region,
                "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "eventName": name[3:] if name.startswith("s3:") else name,
                "userIdentity": {"principalId": "AWS:LOCALUSER"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "local"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": notification.id,
                    "bucket": {
                        "name": bucket.name,
                        "ownerIdentity": {"principalId": "LOCALOWNER"},
                        "arn": f"arn:aws:s3:::{bucket.name}",
                    },
                    "object": {
                        "key": quote_plus(key.name, safe="/"),
                        "size": key.size,
                        "eTag": key.etag.replace('"', ""),
                        "sequencer": f"{time.time_ns():X}",
                    },
                },
            }
            if key.version_id and key.version_id != "null":
                record["s3"]["object"]["versionId"] = key.version_id
            self.log(f"s3       {name} s3://{bucket.name}/{key.name} -> {function}")
            self.invoke_async(function, {"Records": [record]})

    # ---- EventBridge ---------------------------------------------------------------------------

    def emit(self, detail_type: str, resources: list[str], detail: dict[str, Any]) -> None:
        """Send a SageMaker service event to the default bus's rules, as SageMaker does."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aws.sagemaker",
            "account": self.account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": resources,
            "detail": detail,
        }
        bus = self.events.describe_event_bus("default")
        for rule in list(bus.rules.values()):
            if rule.state == "ENABLED":
                rule.send_to_targets(event)

    # ---- training ------------------------------------------------------------------------------

    def _start_training(self, job: Any) -> None:
        job.training_job_status = "InProgress"
        job.secondary_status = "Starting"
        job.final_metric_data_list = []
        job.training_end_time = None
        job.model_artifacts = None
        self.log(f"sagemaker job {job.training_job_name}: InProgress")
        self._emit_job(job)
        self._spawn(self._train, job)

    def _emit_job(self, job: Any) -> None:
        detail = dict(job.response_object)
        detail.pop("FinalMetricDataList", None)  # events may lack them: deploy must describe the job
        detail.pop("ModelArtifacts", None)
        detail = event_shape(detail)
        detail["Tags"] = {t["Key"]: t["Value"] for t in (job.tags or [])}
        self.emit("SageMaker Training Job State Change", [job.arn], detail)

    def _train(self, job: Any) -> None:
        from sagedrop_local import algorithms as local_algorithms

        name = job.training_job_name
        algorithm = algorithm_of_image(job.algorithm_specification["TrainingImage"])
        root = self.workdir / "jobs" / name
        try:
            if not local_algorithms.supported(algorithm):
                raise local_algorithms.AlgorithmError(local_algorithms.unsupported_message(algorithm))
            job.secondary_status = "Downloading"
            channels, content_types = self._download_channels(job, root / "input")
            job.secondary_status = "Training"
            model_dir = root / "model"
            model_dir.mkdir(parents=True, exist_ok=True)
            result = local_algorithms.train(
                algorithm,
                dict(job.hyper_parameters or {}),
                channels,
                content_types,
                model_dir,
                log=lambda line: self.log(f"train    {name}: {line}"),
            )
            job.secondary_status = "Uploading"
            artifact = self._upload_model(job, model_dir)
        except Exception as exc:  # the algorithm's error becomes the job's FailureReason
            reason = (
                str(exc)
                if isinstance(exc, getattr(local_algorithms, "AlgorithmError", ()))
                else (f"AlgorithmError: {type(exc).__name__}: {exc}")
            )
            job.training_job_status = "Failed"
            job.secondary_status = "Failed"
            job.failure_reason = reason[:1024]
            job.training_end_time = job.last_modified_time = datetime.now(UTC)
            self.log(f"sagemaker job {name}: Failed: {reason}")
            self._emit_job(job)
            return
        now = datetime.now(UTC)
        job.final_metric_data_list = [
            {"MetricName": metric, "Value": float(value), "Timestamp": now} for metric, value in result.metrics
        ]
        job.model_artifacts = {"S3ModelArtifacts": artifact}
        job.training_job_status = "Completed"
        job.secondary_status = "Completed"
        job.training_end_time = job.last_modified_time = now
        figures = ", ".join(f"{m}={v:.4g}" for m, v in result.metrics) or "no metrics"
        self.log(f"sagemaker job {name}: Completed ({figures})")
        self._emit_job(job)

    def _download_channels(self, job: Any, root: Path) -> tuple[dict[str, Path], dict[str, str | None]]:
        s3 = self.s3_client()
        channels: dict[str, Path] = {}
        content_types: dict[str, str | None] = {}
        for channel in job.input_data_config:
            name = channel["ChannelName"]
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            bucket, _, prefix = uri[len("s3://") :].partition("/")
            target = root / name
            target.mkdir(parents=True, exist_ok=True)
            paginator = s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue
                    relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
                    path = target / relative
                    path.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, key, str(path))
            channels[name] = target
            content_types[name] = channel.get("ContentType")
        return channels, content_types

    def _upload_model(self, job: Any, model_dir: Path) -> str:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path in sorted(model_dir.rglob("*")):
                if path.is_file():
                    archive.add(path, arcname=str(path.relative_to(model_dir)))
        output = job.output_data_config["S3OutputPath"].rstrip("/")
        uri = f"{output}/{job.training_job_name}/output/model.tar.gz"
        bucket, _, key = uri[len("s3://") :].partition("/")
        self.s3_client().put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        return uri

    # ---- endpoints -----------------------------------------------------------------------------

    def _bring_up(self, endpoint_name: str, config_name: str, update: bool) -> None:
        time.sleep(self.endpoint_delay)
        endpoint = self.sagemaker.endpoints.get(endpoint_name)
        if endpoint is None:
            return
        try:
            predictor = self._load_predictor(config_name)
        except Exception as exc:
            if update:  # a failed update rolls back: the endpoint keeps serving the old config
                moto_gaps.finish_update(self.sagemaker, endpoint, None, failure=f"Failed to update: {exc}")
                self.log(f"sagemaker endpoint {endpoint_name}: update failed, still InService: {exc}")
            else:
                endpoint.endpoint_status = "Failed"
                endpoint.failure_reason = str(exc)[:1024]
                self.log(f"sagemaker endpoint {endpoint_name}: Failed: {exc}")
            self._emit_endpoint(endpoint)
            return
        with self._lock:
            self.predictors[endpoint_name] = (config_name, predictor)
            moto_gaps.finish_update(self.sagemaker, endpoint, config_name)
        self.log(f"sagemaker endpoint {endpoint_name}: InService ({config_name})")
        self._emit_endpoint(endpoint)

    def _emit_endpoint(self, endpoint: Any) -> None:
        status = EVENT_ENDPOINT_STATUS.get(endpoint.endpoint_status, endpoint.endpoint_status)
        detail = {
            "EndpointName": endpoint.endpoint_name,
            "EndpointArn": endpoint.arn,
            "EndpointConfigName": endpoint.endpoint_config_name,
            "ProductionVariants": event_shape(endpoint.production_variants),
            "EndpointStatus": status,
            "CreationTime": int(epoch_ms(endpoint.creation_time)),
            "LastModifiedTime": int(epoch_ms(endpoint.last_modified_time)),
            "Tags": {t["Key"]: t["Value"] for t in (endpoint.tags or [])},
        }
        if endpoint.failure_reason:
            detail["FailureReason"] = endpoint.failure_reason
        self.emit("SageMaker Endpoint State Change", [endpoint.arn], detail)

    def _transform(self, job: Any) -> None:
        from sagedrop_local.transform import run_transform

        def emit(job: Any) -> None:
            detail = {**event_shape(job.response_object), "Tags": {t["Key"]: t["Value"] for t in job.tags or []}}
            self.emit("SageMaker Transform Job State Change", [job.arn], detail)

        self.log(f"sagemaker transform {job.transform_job_name}: InProgress ({job.model_name})")
        emit(job)
        run_transform(job, s3=self.s3_client(), load_predictor=self._load_model, emit=emit, log=self.log)

    def _load_predictor(self, config_name: str) -> Any:
        variant = self.sagemaker.endpoint_configs[config_name].production_variants[0]
        return self._load_model(variant["ModelName"], config_name)

    def _load_model(self, model_name: str, label: str | None = None) -> Any:
        from sagedrop_local import algorithms as local_algorithms

        model = self.sagemaker._models[model_name]
        container = model.primary_container or (model.containers or [{}])[0]
        algorithm = algorithm_of_image(container["Image"])
        if not local_algorithms.supported(algorithm):
            raise RuntimeError(local_algorithms.unsupported_message(algorithm))
        uri = container["ModelDataUrl"]
        bucket, _, key = uri[len("s3://") :].partition("/")
        body = self.s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        target = Path(tempfile.mkdtemp(prefix=f"{label or model_name}-", dir=self.workdir))
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            archive.extractall(target, filter="data")
        image = container["Image"].rsplit("/", 1)[-1]
        serving = local_algorithms.Serving(
            image_tag=image.split(":", 1)[1] if ":" in image else None,
            environment=dict(container.get("Environment") or {}),
        )
        return local_algorithms.load(algorithm, target, serving)

    def _invoke(self, name: str | None, body: bytes, content_type: str, accept: str | None) -> Any:
        endpoint = self.sagemaker.endpoints.get(name or "")
        with self._lock:
            loaded = self.predictors.get(name or "")
        if endpoint is None or endpoint.endpoint_status not in ("InService", "Updating") or loaded is None:
            return moto_gaps.error_answer(
                400, "ValidationError", f"Endpoint {name} of account {self.account} not found."
            )
        variant = endpoint.production_variants[0]["VariantName"]
        self._count_invocation(name or "", variant)
        from sagedrop_local.algorithms import InvokeError

        try:
            answer, answer_type = loaded[1].invoke(body, content_type, accept)
        except Exception as exc:
            if isinstance(exc, InvokeError):  # the container's own answer: 400, 406, 415, ...
                detail, status = exc.message, exc.status_code
            else:  # an unhandled error inside a container's server is its HTTP 500, still a ModelError
                detail, status = f"Internal Server Error: {type(exc).__name__}: {exc}", 500
                self.log(f"sagemaker endpoint {name}: the model server failed: {detail}")
            kind = "client" if status < 500 else "server"
            message = (
                f'Received {kind} error ({status}) from primary with message "{detail}". See '
                f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
                f"#logEventViewer:group=/aws/sagemaker/Endpoints/{name} in account {self.account} for more information."
            )
            fields = {"OriginalStatusCode": status, "OriginalMessage": detail}
            return moto_gaps.error_answer(424, "ModelError", message, fields)
        return moto_gaps.ok_answer(answer, answer_type, variant)

    def advance_clock(self, minutes: float) -> None:
        """Let ``minutes`` pass for everything time-stamped in the emulated AWS.

        Moves back the creation and modification times of endpoints, endpoint configs, models and
        training jobs, and the timestamps of CloudWatch data points, so that idle cleanup sees an
        account in which that much time has gone by (used by the demo; nothing else changes).
        """
        from datetime import timedelta

        delta = timedelta(minutes=minutes)

        def shift(obj: Any, *names: str) -> None:
            for name in names:
                value = getattr(obj, name, None)
                if isinstance(value, datetime):
                    setattr(obj, name, value - delta)

        backend = self.sagemaker
        with self._lock:
            for endpoint in backend.endpoints.values():
                shift(endpoint, "creation_time", "last_modified_time")
            for config in backend.endpoint_configs.values():
                shift(config, "creation_time")
            for model in backend._models.values():
                shift(model, "creation_time")
            for job in backend.training_jobs.values():
                shift(job, "creation_time", "last_modified_time", "training_start_time", "training_end_time")
            for datum in self.cloudwatch.metric_data:
                shift(datum, "timestamp")
        self.log(f"clock    +{minutes:g} minutes for endpoints, jobs and metrics")

    def _count_invocation(self, endpoint: str, variant: str) -> None:
        self.cloudwatch.put_metric_data(
            "AWS/SageMaker",
            [
                {
                    "MetricName": "Invocations",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                    "Value": 1.0,
                    "Unit": "None",
                    "Timestamp": datetime.now(UTC).replace(tzinfo=None),  # moto keeps naive UTC times
                }
            ],
        )
