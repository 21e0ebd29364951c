"""Bring a trained model: ``model.tar.gz`` and a small ``deploy.json`` in a model folder deploy it, no training.

``PretrainedLauncher.handle`` is what the deploy function runs for an S3 ``ObjectCreated`` event of a
key ending in ``deploy.json`` (the template's ``PretrainedDropped`` notification):

1. **Read and validate** that version of ``deploy.json`` (at most 64 KiB of UTF-8 JSON): ``algorithm``
   (required), ``name`` (default: the folder), ``version`` (the image tag), ``deploy`` (the same
   section as training.json's, without ``gate``/``must_beat_current``: a model trained elsewhere has
   no metrics to gate on), ``labels``, and optionally the ``hyperparameters`` it was trained with
   (they tell predict how to read the answers: xgboost's objective, linear-learner's feature_dim,
   BlazingText's mode). Every problem is reported at once, with its JSON path and a fix.
2. **Check the archive** ``<folder>/model.tar.gz`` before anything is created (:mod:`sagedrop.archive`):
   it exists, it is gzip, the gzip holds a tar archive, the whole stream reads to its end (a cut-short
   or corrupt upload is refused here), and its top level holds what the algorithm's container serves:
   the named files of ``Algorithm.serving_files_for`` (``vocab.src.json`` and ``vocab.trg.json`` beside
   the model files for Seq2Seq), or, for a container that loads every top-level file whatever its name
   (``Algorithm.directory_loading``: XGBoost), model files only. The archive is streamed, never stored.
3. **Copy** that exact version of the archive to ``s3://<artifacts>/models/<model>/<release>/model.tar.gz``,
   so the SageMaker model keeps pointing at the bytes that were checked (a later drop overwrites
   the data bucket's key; a woken or re-created endpoint reads the model data again).
4. **Record** a ``JOB#<release>`` item as training does (``source: pretrained``, the model data URL,
   the deploy section, labels, hyperparameters), and hand over to :class:`~sagedrop.deploy.Deployer`:
   the same model / endpoint config / endpoint logic, tags, notifications, idle cleanup and wake.

The release name has the training job format ``<model>-<yyyymmdd-HHMMSS>-<6 hex>`` from the S3 event's
time and a hash of bucket, key and version, so newest-wins ordering against training jobs and other
drops applies unchanged, and a redelivered event maps to the same release (it finishes what an
interrupted attempt left, or is a duplicate). A user's mistake is recorded in the registry and
notified, as for training; throttling and AWS 5xx errors propagate so Lambda retries.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagedrop import algorithms, naming, registry
from sagedrop.algorithms.base import Algorithm
from sagedrop.archive import MAX_LISTED, ArchiveContents, ArchiveError, archive_problems, inspect_archive
from sagedrop.aws import read_head
from sagedrop.aws_errors import is_not_found
from sagedrop.deploy import JOB_COMPLETED, SOURCE_PRETRAINED, Deployer, Outcome
from sagedrop.errors import ManifestError, Problem, UserError
from sagedrop.manifest import (
    MAX_MANIFEST_BYTES,
    Defaults,
    DeploySettings,
    deploy_section,
    json_type,
    labels_section,
    load_json,
    unknown_fields,
)
from sagedrop.notify import Notifier

log = logging.getLogger("sagedrop.pretrained")

DEPLOY_FILE = "deploy.json"
ARCHIVE_FILE = "model.tar.gz"
TOP_LEVEL = ("algorithm", "name", "version", "deploy", "labels", "hyperparameters", "description", "feature_count")
TRAINING_ONLY = ("channels", "content_type", "training", "convert", "label_bins")
"""training.json fields that have no meaning for a model that is already trained."""

MAX_COPY_OBJECT_BYTES = 5 * 1024**3
"""CopyObject copies at most 5 GB in one call; larger archives go through a multipart copy."""


# ------------------------------------------------------------------------------------------------
# deploy.json
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PretrainedManifest:
    """A validated deploy.json."""

    algorithm: Algorithm
    name: str
    version: str
    deploy: DeploySettings
    labels: tuple[str, ...] | None
    hyperparameters: dict[str, Any]
    """The hyperparameters the model was trained with, as given (typed); defaults are not added."""
    wire_hyperparameters: dict[str, str]
    description: str | None = None
    feature_count: int | None = None
    """Features per row the model takes (deploy.json ``feature_count``); predict refuses other widths."""

    def serving_patterns(self) -> tuple[str, ...]:
        """What model.tar.gz must hold: per hyperparameters when every required one is known."""
        required = {spec.name for spec in self.algorithm.hyperparameters if spec.required}
        if required and required <= set(self.hyperparameters):
            return self.algorithm.serving_files_for(self.hyperparameters)
        return self.algorithm.serving_files


def parse_deploy_json(
    data: Mapping[str, Any], *, default_name: str = "", defaults: Defaults | None = None, source: str = DEPLOY_FILE
) -> PretrainedManifest:
    """Validate a deploy.json object; ManifestError lists every problem found."""
    defaults = defaults or Defaults()
    problems: list[Problem] = []
    for key in data:
        if key in TRAINING_ONLY:
            problems.append(
                Problem(
                    f"$.{key}",
                    f"deploy.json deploys a model that is already trained, so {key!r} has no use",
                    "remove it (it belongs in training.json)",
                )
            )
    problems.extend(unknown_fields({k: v for k, v in data.items() if k not in TRAINING_ONLY}, TOP_LEVEL))

    algorithm: Algorithm | None = None
    raw_algorithm = data.get("algorithm")
    if raw_algorithm is None:
        problems.append(
            Problem(
                "$.algorithm",
                "deploy.json must name the algorithm that trained the model",
                'add "algorithm": one of ' + ", ".join(algorithms.NAMES),
            )
        )
    elif not isinstance(raw_algorithm, str):
        problems.append(Problem("$.algorithm", f"expected a string, got {json_type(raw_algorithm)}"))
    else:
        try:
            algorithm = algorithms.get(raw_algorithm.strip().lower())
        except algorithms.UnknownAlgorithm as exc:
            problems.append(Problem("$.algorithm", exc.message))

    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        problems.append(Problem("$.name", f"expected a non-empty string, got {json_type(name)}"))
        name = None
    name = name or default_name
    if name:
        problems.extend(naming.check_model_name(name, "$.name" if "name" in data else "$ (folder name)"))
    else:
        problems.append(
            Problem(
                "$.name",
                "deploy.json sits at the top of the bucket, so it has no folder to name the model after",
                'put it in a folder with model.tar.gz (my-model/deploy.json) or set "name"',
            )
        )
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(Problem("$.description", f"expected a string, got {json_type(description)}"))
    labels, label_problems = labels_section(data)
    problems.extend(label_problems)

    if algorithm is None:
        raise ManifestError(problems, source=source)

    version = data.get("version", algorithm.default_version)
    if not isinstance(version, str) or version not in algorithm.versions:
        shown = repr(version) if isinstance(version, str) else json_type(version)
        problems.append(
            Problem(
                "$.version", f"{algorithm.name} has no version {shown}", "use one of " + ", ".join(algorithm.versions)
            )
        )
        version = algorithm.default_version

    typed, wire = _hyperparameters(data.get("hyperparameters"), algorithm, problems)
    deploy = _deploy(data, algorithm, defaults, problems)

    if labels is not None:
        classes = algorithm.class_count(typed)
        if classes is not None and len(labels) != classes:
            problems.append(
                Problem(
                    "$.labels",
                    f"{len(labels)} labels for a model with {classes} classes",
                    f"give exactly {classes} class names, in class-index order",
                )
            )
    features = _feature_count(data.get("feature_count"), algorithm, typed, problems)
    if problems:
        raise ManifestError(problems, source=source)
    assert deploy is not None
    return PretrainedManifest(algorithm, name, version, deploy, labels, typed, wire, description, features)


def _feature_count(raw: Any, algorithm: Algorithm, typed: Mapping[str, Any], problems: list[Problem]) -> int | None:
    """deploy.json ``feature_count``: a positive integer, equal to feature_dim where the hyperparameters give it."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        problems.append(
            Problem(
                "$.feature_count", f"expected a positive integer, got {json_type(raw)}", "e.g. 13: features per row"
            )
        )
        return None
    declared = algorithm.expected_feature_count(typed)
    if declared is not None and declared != raw:
        problems.append(
            Problem("$.feature_count", f"is {raw} but feature_dim is {declared}", "give the same number, or only one")
        )
    return raw


def _hyperparameters(raw: Any, algorithm: Algorithm, problems: list[Problem]) -> tuple[dict[str, Any], dict[str, str]]:
    """The given hyperparameters checked by name and type (nothing is required: they only describe the model)."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        problems.append(
            Problem(
                "$.hyperparameters",
                f"expected an object, got {json_type(raw)}",
                'e.g. {"objective": "multi:softmax", "num_class": 3}',
            )
        )
        return {}, {}
    typed: dict[str, Any] = {}
    wire: dict[str, str] = {}
    before = len(problems)
    for key, value in raw.items():
        spec = algorithm.hyperparameter(key)
        if spec is None:
            known = [h.name for h in algorithm.hyperparameters]
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
            hint = f"did you mean {close[0]!r}?" if close else f"see the {algorithm.title} hyperparameters"
            problems.append(
                Problem(f"$.hyperparameters.{key}", f"{algorithm.name} has no hyperparameter {key!r}", hint)
            )
            continue
        try:
            typed[key], wire[key] = spec.type.convert(value)
        except ValueError as exc:
            problems.append(Problem(f"$.hyperparameters.{key}", f"expected {spec.type.expected}, {exc}"))
    if len(problems) == before:
        problems.extend(algorithm.check_hyperparameters(dict(typed), "$.hyperparameters"))
    return typed, wire


def _deploy(
    data: Mapping[str, Any], algorithm: Algorithm, defaults: Defaults, problems: list[Problem]
) -> DeploySettings | None:
    raw = data.get("deploy", {})
    if raw is False:
        problems.append(
            Problem(
                "$.deploy",
                "deploy.json exists to deploy the model, deploy: false would do nothing",
                "remove deploy or give the hosting settings",
            )
        )
        return None
    if isinstance(raw, dict):
        for key in ("gate", "must_beat_current"):
            if key in raw:
                problems.append(
                    Problem(
                        f"$.deploy.{key}",
                        "a model trained elsewhere has no training metrics to compare",
                        f"remove {key} (it applies to models trained from training.json)",
                    )
                )
        raw = {k: v for k, v in raw.items() if k not in ("gate", "must_beat_current")}
    settings, section_problems = deploy_section(raw, algorithm, defaults)
    problems.extend(section_problems)
    return settings


# ------------------------------------------------------------------------------------------------
# The flow
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PretrainedContext:
    """What the stack gives the deploy function for pretrained drops."""

    stack: str
    region: str
    artifact_bucket: str
    defaults: Defaults = field(default_factory=Defaults)


DropObject = naming.DroppedObject


@dataclass(frozen=True)
class CheckedArchive:
    bucket: str
    key: str
    version: str | None
    etag: str | None
    size: int
    contents: ArchiveContents

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def release_name(model: str, obj: DropObject) -> str:
    """``<model>-<yyyymmdd-HHMMSS>-<6 hex>`` of the drop: the training job name format, so drops and
    training jobs of a model sort by the time of their drop and a redelivered event maps to the same name."""
    return naming.job_name(model, obj.time, obj.digest)


def model_data_key(model: str, release: str) -> str:
    """Where the checked archive is copied in the artifact bucket (next to training outputs)."""
    return f"models/{model}/{release}/{ARCHIVE_FILE}"


def serving_problems(
    contents: ArchiveContents, spec: PretrainedManifest, where: str, beside: Callable[[], list[str]]
) -> list[Problem]:
    """What the archive lacks for ``spec``'s container (``beside``: the names next to it, asked only when
    they can make a hint precise). Shared by the deploy function and ``sagedrop check``."""
    patterns = spec.serving_patterns()
    loading = spec.algorithm.directory_loading(spec.version)
    problems = archive_problems(contents, patterns, algorithm=spec.algorithm, where=where, loading=loading)
    if problems and loading is None:
        problems = archive_problems(contents, patterns, algorithm=spec.algorithm, where=where, beside=beside())
    return problems


class PretrainedLauncher:
    """deploy.json drops: validation, the archive check and copy, the registry record, then the Deployer."""

    def __init__(
        self,
        ctx: PretrainedContext,
        *,
        s3: Any,
        deployer: Deployer,
        registry_: registry.Registry,
        notifier: Notifier,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self._s3 = s3
        self._deployer = deployer
        self._registry = registry_
        self._notifier = notifier
        self._clock = clock

    def handle(self, obj: DropObject, *, scan_until: float | None = None) -> Outcome:
        """Deploy the model a deploy.json drop describes; ``scan_until``: when the archive scan must end
        (a ``clock()`` value, from the Lambda's remaining time)."""
        if obj.key.rsplit("/", 1)[-1] != DEPLOY_FILE:
            log.info("not a deploy.json, ignored", extra={"key": obj.key})
            return Outcome("ignored", message=f"{obj.key} is not named {DEPLOY_FILE}")
        default_name = naming.model_name_from_key(obj.key)
        model = default_name or "-"
        try:
            found = self._read(obj)
            if found is None:
                return Outcome("ignored", model, message=f"{obj.uri} no longer exists")
            data = load_json(found[0], source=obj.uri, size=found[1])
            if isinstance(data.get("name"), str) and data["name"]:
                model = data["name"]
            spec = parse_deploy_json(data, default_name=default_name, defaults=self.ctx.defaults, source=obj.uri)
            model = spec.name
            try:
                spec.algorithm.inference_image_uri(self.ctx.region, spec.version)
            except KeyError as exc:
                raise ManifestError(
                    Problem("$.algorithm", str(exc.args[0]), "deploy sagedrop in a region where the algorithm exists"),
                    source=obj.uri,
                ) from None
        except UserError as exc:
            return self._reject(model, obj, exc)

        release = release_name(model, obj)
        if self._registry.get_job(model, release) is not None:
            # A redelivered event: checked, copied and recorded before; finish what is left (or nothing).
            log.info("release already recorded: redelivered event", extra={"job": release})
            return self._deployer.on_pretrained(model, release)
        folder = naming.model_folder(obj.key)
        try:
            archive = self._check_archive(obj.bucket, folder + ARCHIVE_FILE, spec, scan_until)
        except UserError as exc:
            return self._reject(model, obj, exc)
        model_data = self._copy(archive, model, release)
        self._record(spec, obj, release, archive, model_data)
        log.info(
            "pretrained model recorded",
            extra={"model": model, "job": release, "algorithm": spec.algorithm.name, "model_data": model_data},
        )
        return self._deployer.on_pretrained(model, release)

    # ---- steps ----------------------------------------------------------------------------

    def _read(self, obj: DropObject) -> tuple[bytes, int] | None:
        found = read_head(self._s3, obj.bucket, obj.key, obj.version, MAX_MANIFEST_BYTES)
        if found is None:
            log.warning("deploy.json vanished before it was read", extra={"uri": obj.uri})
        return found

    def _check_archive(
        self, bucket: str, key: str, spec: PretrainedManifest, scan_until: float | None
    ) -> CheckedArchive:
        where = f"s3://{bucket}/{key}"
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if is_not_found(exc):
                raise ArchiveError(
                    Problem(
                        where,
                        "does not exist",
                        "upload the trained model as model.tar.gz into the same folder first, then deploy.json "
                        "(its arrival starts the deploy)",
                    )
                ) from None
            raise
        size = int(head.get("ContentLength") or 0)
        version = head.get("VersionId")
        version = version if version and version != "null" else None
        etag = str(head.get("ETag") or "").strip('"') or None
        if size == 0:
            raise ArchiveError(Problem(where, "is empty (0 bytes)", "upload the trained model's model.tar.gz again"))
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version:
            kwargs["VersionId"] = version
        body = self._s3.get_object(**kwargs)["Body"]
        until = scan_until
        try:
            contents = inspect_archive(
                body, where=where, deadline=(lambda: until is not None and self._clock() > until)
            )
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        problems = serving_problems(contents, spec, where, lambda: self._beside(bucket, key))
        if problems:
            raise ArchiveError(problems)
        log.info(
            "model archive checked",
            extra={"archive": where, "bytes": size, "files": list(contents.files[:MAX_LISTED])},
        )
        return CheckedArchive(bucket, key, version, etag, size, contents)

    def _beside(self, bucket: str, key: str) -> list[str]:
        """File names next to model.tar.gz (for a precise hint, e.g. vocab files left outside)."""
        prefix = naming.model_folder(key)
        response = self._s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/", MaxKeys=1000)
        return [item["Key"][len(prefix) :] for item in response.get("Contents", [])]

    def _copy(self, archive: CheckedArchive, model: str, release: str) -> str:
        target = model_data_key(model, release)
        source: dict[str, str] = {"Bucket": archive.bucket, "Key": archive.key}
        if archive.version:
            source["VersionId"] = archive.version
        if archive.size <= MAX_COPY_OBJECT_BYTES:
            # Tags of the upload are not copied (that would need s3:GetObjectTagging/PutObjectTagging too).
            self._s3.copy_object(
                CopySource=source, Bucket=self.ctx.artifact_bucket, Key=target, TaggingDirective="REPLACE"
            )
        else:
            self._s3.copy(source, self.ctx.artifact_bucket, target)  # boto3's managed multipart copy
        return f"s3://{self.ctx.artifact_bucket}/{target}"

    def _record(
        self, spec: PretrainedManifest, obj: DropObject, release: str, archive: CheckedArchive, model_data: str
    ) -> None:
        self._registry.put_job(
            spec.name,
            release,
            {
                "status": JOB_COMPLETED,
                "source": SOURCE_PRETRAINED,
                "algorithm": spec.algorithm.name,
                "version": spec.version,
                "manifest": obj.uri,
                "manifest_version": obj.version,
                "deploy": spec.deploy.to_dict(),
                "labels": list(spec.labels) if spec.labels else None,
                "hyperparameters": dict(spec.wire_hyperparameters),
                "metrics": {},
                "model_data": model_data,
                "archive": archive.uri,
                "archive_version": archive.version,
                "archive_etag": archive.etag,
                "archive_bytes": archive.size,
                "archive_files": list(archive.contents.files[:MAX_LISTED]),
                "description": spec.description,
                "feature_count": spec.feature_count,
            },
        )
        newest = self._registry.update(
            spec.name,
            {
                "algorithm": spec.algorithm.name,
                "version": spec.version,
                "manifest": obj.uri,
                "latest_job": release,
                "last_error": None,
                "stack": self.ctx.stack,
            },
            condition="attribute_not_exists(#latest) OR #latest <= :job",
            names={"#latest": "latest_job"},
            values={":job": release},
        )
        if not newest:
            log.warning("a newer job or drop is already recorded for this model", extra={"job": release})

    def _reject(self, model: str, obj: DropObject, exc: UserError) -> Outcome:
        message = exc.describe()
        problems = [{"path": p.path, "message": p.message, "hint": p.hint} for p in exc.problems]
        log.warning("deploy.json rejected", extra={"model": model, "manifest": obj.uri, "problems": problems})
        if model and model != "-":
            self._registry.record_rejection(
                model, message, {"manifest": obj.uri, "manifest_version": obj.version, "problems": problems}
            )
        self._notifier.publish(
            f"{model}: deploy.json rejected, nothing deployed",
            f"sagedrop did not deploy the model described by {obj.uri}.\n\n{message}\n\n"
            "Nothing was created; a model already in service keeps serving. Fix the problem and upload "
            "deploy.json again (after model.tar.gz, if you change the archive).",
            event="rejected",
            model=model,
            details={"manifest": obj.uri, "version": obj.version, "problems": problems},
        )
        return Outcome("rejected", model, message=message)
