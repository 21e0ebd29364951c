"""From a dropped ``training.json`` to a SageMaker training job.

``TrainingLauncher.handle`` is what the train function runs for each S3 record: read the
manifest version that triggered the event, validate it, resolve and check the channels, build
the CreateTrainingJob request and start it once. A user's mistake starts nothing and is recorded,
notified and returned (not raised); AWS errors that may pass are raised so Lambda retries.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sagedrop import naming, registry, tags
from sagedrop.aws import read_head
from sagedrop.aws_errors import error_message, exists, name_in_use, refusal_problem
from sagedrop.convert import LabelBins
from sagedrop.datacheck import ObjectStore, ResolvedChannel, check_folder
from sagedrop.errors import DataError, ManifestError, Problem, UserError
from sagedrop.manifest import MAX_MANIFEST_BYTES, Defaults, Manifest, load_json, parse
from sagedrop.notify import Notifier

log = logging.getLogger("sagedrop.training")


@dataclass(frozen=True)
class StackContext:
    """What the stack gives the train function (environment variables of the template)."""

    stack: str
    region: str
    role_arn: str
    artifact_bucket: str
    defaults: Defaults = field(default_factory=Defaults)


ManifestObject = naming.DroppedObject


@dataclass(frozen=True)
class Outcome:
    """What happened to one manifest: ``started``, ``duplicate``, ``rejected`` or ``ignored``."""

    status: str
    model: str
    job: str | None = None
    message: str = ""
    problems: tuple[Problem, ...] = ()


def output_path(ctx: StackContext, model: str) -> str:
    return f"s3://{ctx.artifact_bucket}/models/{model}/"


def checkpoint_path(ctx: StackContext, model: str, job: str) -> str:
    return f"s3://{ctx.artifact_bucket}/checkpoints/{model}/{job}/"


def training_request(
    manifest: Manifest,
    channels: Mapping[str, ResolvedChannel],
    *,
    job: str,
    ctx: StackContext,
    source: ManifestObject,
) -> dict[str, Any]:
    """The CreateTrainingJob parameters for a validated manifest."""
    algorithm = manifest.algorithm
    settings = manifest.training
    input_config = []
    for channel in channels.values():
        entry: dict[str, Any] = {
            "ChannelName": channel.name,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": channel.s3_uri,
                    "S3DataDistributionType": channel.distribution,
                }
            },
        }
        if channel.content_type:
            entry["ContentType"] = channel.content_type
        if channel.input_mode:
            entry["InputMode"] = channel.input_mode
        if channel.compression:
            entry["CompressionType"] = channel.compression
        input_config.append(entry)

    deploy = manifest.deploy
    tag_map = tags.base_tags(ctx.stack, manifest.name, source.uri, source.version)
    tag_map[tags.ALGORITHM] = algorithm.name
    request: dict[str, Any] = {
        "TrainingJobName": job,
        "AlgorithmSpecification": {
            "TrainingImage": algorithm.image_uri(ctx.region, manifest.version),
            "TrainingInputMode": settings.input_mode,
        },
        "RoleArn": ctx.role_arn,
        "InputDataConfig": input_config,
        "OutputDataConfig": {"S3OutputPath": output_path(ctx, manifest.name)},
        "ResourceConfig": {
            "InstanceType": settings.instance_type,
            "InstanceCount": settings.instance_count,
            "VolumeSizeInGB": settings.volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_s},
        "HyperParameters": dict(manifest.wire_hyperparameters),
        "EnableNetworkIsolation": algorithm.supports_network_isolation,
        "Tags": tags.to_list(tag_map),
    }
    if settings.spot:
        request["EnableManagedSpotTraining"] = True
        request["StoppingCondition"]["MaxWaitTimeInSeconds"] = settings.max_wait_s
        request["CheckpointConfig"] = {"S3Uri": checkpoint_path(ctx, manifest.name, job)}
    if deploy is not None and deploy.idle_minutes:
        request["Tags"].extend(
            tags.to_list({tags.IDLE_MINUTES: str(deploy.idle_minutes), tags.KEEP_ALIVE: str(deploy.keep_alive).lower()})
        )
    return request


class TrainingLauncher:
    """The train function's domain logic, with its collaborators injected."""

    def __init__(
        self,
        ctx: StackContext,
        *,
        s3: Any,
        store: ObjectStore,
        sagemaker: Any,
        registry_: registry.Registry,
        notifier: Notifier,
    ) -> None:
        self.ctx = ctx
        self._s3 = s3
        self._store = store
        self._sagemaker = sagemaker
        self._registry = registry_
        self._notifier = notifier

    # ---- the flow -------------------------------------------------------------------------

    def handle(self, obj: ManifestObject) -> Outcome:
        if obj.key.rsplit("/", 1)[-1] != naming.MANIFEST_FILE:
            log.info("not a manifest, ignored", extra={"key": obj.key})
            return Outcome("ignored", "", message=f"{obj.key} is not named {naming.MANIFEST_FILE}")
        folder = naming.model_folder(obj.key)
        default_name = naming.model_name_from_key(obj.key)
        model = default_name or "-"
        try:
            found = self._read_manifest(obj)
            if found is None:
                return Outcome("ignored", model, message=f"{obj.uri} no longer exists")
            data = load_json(found[0], source=obj.uri, size=found[1])
            if isinstance(data.get("name"), str) and data["name"]:
                model = data["name"]
            manifest = parse(data, default_name=default_name, defaults=self.ctx.defaults, source=obj.uri)
            model = manifest.name
            image_problem = self._image_problem(manifest)
            if image_problem:
                raise ManifestError(image_problem, source=obj.uri)
            channels, facts = check_folder(manifest, self._store, obj.bucket, folder, obj.key, source=obj.uri)
        except UserError as exc:
            return self._reject(model, obj, exc)
        train = facts.get("train")
        return self._start(manifest, channels, obj, train.feature_count if train else None)

    def _read_manifest(self, obj: ManifestObject) -> tuple[bytes, int] | None:
        found = read_head(self._s3, obj.bucket, obj.key, obj.version, MAX_MANIFEST_BYTES)
        if found is None:
            log.warning("manifest vanished before it was read", extra={"uri": obj.uri, "version": obj.version})
        return found

    def _image_problem(self, manifest: Manifest) -> Problem | None:
        try:
            manifest.algorithm.image_uri(self.ctx.region, manifest.version)
        except KeyError as exc:
            return Problem("$.algorithm", str(exc.args[0]), "deploy sagedrop in a region where the algorithm exists")
        return None

    def _start(
        self,
        manifest: Manifest,
        channels: Mapping[str, ResolvedChannel],
        obj: ManifestObject,
        feature_count: int | None = None,
    ) -> Outcome:
        job = naming.job_name(manifest.name, obj.time, obj.digest)
        if self._job_exists(job):
            log.info("training job already exists: redelivered event", extra={"job": job})
            return Outcome("duplicate", manifest.name, job, "the job for this manifest version already exists")
        bins: LabelBins | None = None
        if manifest.convert or manifest.label_bins:
            try:
                channels, bins = self._convert(manifest, channels, job, obj)
            except UserError as exc:
                return self._reject(manifest.name, obj, exc)
        request = training_request(manifest, channels, job=job, ctx=self.ctx, source=obj)
        try:
            self._sagemaker.create_training_job(**request)
        except Exception as exc:
            if name_in_use(exc):
                log.info("training job already exists (concurrent delivery)", extra={"job": job})
                return Outcome("duplicate", manifest.name, job, error_message(exc))
            # SageMaker refused the request itself: not retryable, the user (or the operator) must act.
            problem = refusal_problem(
                exc, "CreateTrainingJob", "check the instance type, quotas and settings in the manifest"
            )
            if problem is None:
                raise
            return self._reject(manifest.name, obj, UserError(problem, source=obj.uri))
        self._record(manifest, channels, obj, job, request, bins, feature_count)
        log.info(
            "training job started", extra={"job": job, "model": manifest.name, "algorithm": manifest.algorithm.name}
        )
        if manifest.warnings:
            self._notifier.publish(
                f"{manifest.name}: training started with {len(manifest.warnings)} warning(s)",
                f"sagedrop started {job} for {obj.uri}, but the manifest has settings the algorithm ignores:\n\n"
                + "\n".join(f"  - {w}" for w in manifest.warnings),
                event="warned",
                model=manifest.name,
                details={"job": job, "manifest": obj.uri, "warnings": _problem_dicts(manifest.warnings)},
            )
        return Outcome("started", manifest.name, job)

    def _convert(
        self, manifest: Manifest, channels: Mapping[str, ResolvedChannel], job: str, obj: ManifestObject
    ) -> tuple[dict[str, ResolvedChannel], LabelBins | None]:
        """Bin labels and/or convert CSV channels to RecordIO-protobuf into the artifact bucket."""
        from sagedrop import convert

        converted = dict(channels)
        csv_channels = {name: ch for name, ch in channels.items() if name in ("train", "validation", "test")}
        problems = [
            Problem(
                f"channel {name} ({ch.s3_uri})",
                f"is {ch.content_type}, not text/csv",
                "convert and label_bins apply to CSV channels (label first, no header)",
            )
            for name, ch in csv_channels.items()
            if ch.content_type != "text/csv"
        ]
        objects: dict[str, list[str]] = {}
        for name, channel in csv_channels.items():
            listed = [(k, n) for k, n in self._store.objects(channel.bucket, channel.prefix, 100_000) if n > 0]
            total = sum(size for _, size in listed)
            if total > convert.MAX_CONVERT_BYTES:
                problems.append(
                    Problem(
                        f"channel {name} ({channel.s3_uri})",
                        f"is {total / 1024**3:.1f} GiB; the train function converts at most "
                        f"{convert.MAX_CONVERT_BYTES / 1024**3:.0f} GiB within Lambda's time limit",
                        "convert it beforehand with `sagedrop prepare recordio` and upload the .pbr files",
                    )
                )
            objects[name] = [key for key, _ in listed if not key.rsplit("/", 1)[-1].startswith(".")]
        if problems:
            raise DataError(problems, source=obj.uri)

        bins = None
        if manifest.label_bins:
            train = csv_channels["train"]
            low, high = float("inf"), float("-inf")
            for key in objects["train"]:
                lo, hi, _ = convert.label_range(self._body(train.bucket, key), f"s3://{train.bucket}/{key}")
                low, high = min(low, lo), max(high, hi)
            bins = convert.LabelBins.equal_width(low, high, manifest.label_bins)

        to_recordio = manifest.convert == "recordio-protobuf"
        suffix = "pbr" if to_recordio else "csv"
        for name, channel in csv_channels.items():
            prefix = f"converted/{manifest.name}/{job}/{name}/"
            stats = convert.ConvertStats()
            with tempfile.TemporaryFile() as out:
                for key in objects[name]:
                    convert.transform_csv(
                        self._body(channel.bucket, key),
                        out,
                        where=f"s3://{channel.bucket}/{key}",
                        bins=bins,
                        recordio=to_recordio,
                        stats=stats,
                    )
                out.seek(0)
                self._s3.upload_fileobj(out, self.ctx.artifact_bucket, f"{prefix}{name}.{suffix}")
            log.info(
                "channel converted",
                extra={
                    "channel": name,
                    "rows": stats.rows,
                    "bytes": stats.bytes_written,
                    "to": f"s3://{self.ctx.artifact_bucket}/{prefix}",
                },
            )
            converted[name] = replace(
                channel,
                bucket=self.ctx.artifact_bucket,
                prefix=prefix,
                content_type="application/x-recordio-protobuf" if to_recordio else "text/csv",
                sample_key=f"{prefix}{name}.{suffix}",
            )
        return converted, bins

    def _body(self, bucket: str, key: str) -> Any:
        """The object's streaming body: ``convert`` reads it in blocks of bytes (BOM, CRLF handled)."""
        return self._s3.get_object(Bucket=bucket, Key=key)["Body"]

    def _job_exists(self, job: str) -> bool:
        return exists(self._sagemaker.describe_training_job, TrainingJobName=job)

    def _record(
        self,
        manifest: Manifest,
        channels: Mapping[str, ResolvedChannel],
        obj: ManifestObject,
        job: str,
        request: Mapping[str, Any],
        bins: LabelBins | None = None,
        feature_count: int | None = None,
    ) -> None:
        deploy = manifest.deploy.to_dict() if manifest.deploy else None
        labels = list(manifest.labels) if manifest.labels else (bins.names() if bins else None)
        self._registry.put_job(
            manifest.name,
            job,
            {
                "status": registry.TRAINING,
                "algorithm": manifest.algorithm.name,
                "version": manifest.version,
                "manifest": obj.uri,
                "manifest_version": obj.version,
                "deploy": deploy,
                "labels": labels,
                "label_bins": bins.to_dict() if bins else None,
                "hyperparameters": dict(manifest.wire_hyperparameters),
                "channels": {name: ch.s3_uri for name, ch in channels.items()},
                "instance_type": request["ResourceConfig"]["InstanceType"],
                "feature_count": feature_count,  # seen in the train data; predict checks rows against it
                "warnings": _problem_dicts(manifest.warnings),
            },
        )
        recorded = self._registry.record_training(
            manifest.name,
            job,
            {
                "algorithm": manifest.algorithm.name,
                "version": manifest.version,
                "manifest": obj.uri,
                "training_job": job,
                "labels": labels,
                "feature_dim": manifest.algorithm.expected_feature_count(manifest.hyperparameters),
                "stack": self.ctx.stack,
            },
        )
        if not recorded:
            log.warning("a newer job is already recorded for this model", extra={"job": job, "model": manifest.name})

    def _reject(self, model: str, obj: ManifestObject, exc: UserError) -> Outcome:
        message = exc.describe()
        problems = _problem_dicts(exc.problems)
        log.warning("manifest rejected", extra={"model": model, "manifest": obj.uri, "problems": problems})
        if model and model != "-":
            self._registry.record_rejection(
                model, message, {"manifest": obj.uri, "manifest_version": obj.version, "problems": problems}
            )
        self._notifier.publish(
            f"{model}: training.json rejected, nothing started",
            f"sagedrop did not start training for {obj.uri}.\n\n{message}\n\n"
            "Fix the manifest or the data and upload training.json again.",
            event="rejected",
            model=model,
            details={"manifest": obj.uri, "version": obj.version, "problems": problems},
        )
        return Outcome("rejected", model, message=message, problems=tuple(exc.problems))


def _problem_dicts(problems: Iterable[Problem]) -> list[dict[str, str]]:
    return [{"path": p.path, "message": p.message, "hint": p.hint} for p in problems]
