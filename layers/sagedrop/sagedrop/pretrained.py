"""Bring a trained model: ``model.tar.gz`` and a small ``deploy.json`` in a model folder deploy it, no training.

``PretrainedLauncher.handle`` is what the deploy function runs for an S3 ``ObjectCreated`` event of a
key ending in ``deploy.json`` (the template's ``PretrainedDropped`` notification):

1. **Read and validate** that version of ``deploy.json`` (at most 64 KiB of UTF-8 JSON): ``algorithm``
   (required), ``name`` (default: the folder), ``version`` (the image tag), ``deploy`` (the same
   section as training.json's, without ``gate``/``must_beat_current``: a model trained elsewhere has
   no metrics to gate on), ``labels``, and optionally the ``hyperparameters`` it was trained with
   (they tell predict how to read the answers: xgboost's objective, linear-learner's feature_dim,
   BlazingText's mode). Every problem is reported at once, with its JSON path and a fix.
2. **Check the archive** ``<folder>/model.tar.gz`` before anything is created: it exists, it is gzip,
   the gzip holds a tar archive, and its top level holds what the algorithm's container serves
   (``Algorithm.serving_files_for``: ``xgboost-model`` for XGBoost; ``vocab.src.json`` and
   ``vocab.trg.json`` beside the model files for Seq2Seq, which reads its vocabularies from the
   model directory SageMaker extracts the archive into). The archive is streamed and never stored;
   the scan stops as soon as every required file was seen.
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
import fnmatch
import logging
import time
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sagedrop import algorithms, naming, registry
from sagedrop.algorithms.base import Algorithm
from sagedrop.aws import error_code, read_head
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

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1024 * 1024
"""Compressed bytes read from S3 at a time."""
OUT_CHUNK = 64 * 1024
"""Decompressed bytes produced at a time (tarfile reads 10 KiB records)."""
MAX_COPY_OBJECT_BYTES = 5 * 1024**3
"""CopyObject copies at most 5 GB in one call; larger archives go through a multipart copy."""
MAX_LISTED = 12
"""How many archive members an error message lists."""

# Why each algorithm's container needs its files, said once (the patterns come from the algorithm).
SERVING_HINTS = {
    "xgboost": "the SageMaker XGBoost container loads the Booster saved as xgboost-model "
    "(pickle.dump(booster) or booster.save_model('xgboost-model'))",
    "seq2seq": "the Seq2Seq container reads the model files and the vocabularies vocab.src.json and "
    "vocab.trg.json side by side from the archive's top level (a seq2seq training job's model.tar.gz "
    "holds them so)",
    "linear-learner": "the Linear Learner container loads model_algo-1 (what its training job writes)",
    "blazingtext": "the BlazingText container loads vectors.bin (Word2Vec) or model.bin (supervised)",
    "image-classification": "the Image Classification container loads image-classification-symbol.json "
    "and image-classification-<epoch>.params",
}


class ArchiveError(UserError):
    """model.tar.gz is missing, not a gzip tar, or lacks what the algorithm serves."""

    kind = "cannot deploy the model archive"


class _Unreadable(Exception):
    """The gzip layer of the archive is broken (raised through tarfile by the reader)."""


class _OutOfTime(Exception):
    """The scan reached its deadline."""


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
# model.tar.gz
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveContents:
    """What a scan of model.tar.gz saw (regular files only, names without a leading ``./``)."""

    files: tuple[str, ...]
    complete: bool
    """True when the whole archive was read (False: the scan stopped once everything was found)."""
    compressed_bytes: int = 0

    @property
    def top_level(self) -> tuple[str, ...]:
        return tuple(name for name in self.files if "/" not in name)


class _Gunzip:
    """A file-like of the decompressed bytes of a gzip stream (multi-member too), read incrementally.

    Output is produced in slices of at most :data:`OUT_CHUNK` bytes, so memory stays small whatever
    the archive holds. Raises :class:`_Unreadable` for broken or truncated gzip data and
    :class:`_OutOfTime` past the deadline, so that callers can tell the gzip layer from the tar layer.
    """

    def __init__(self, raw: BinaryIO, head: bytes, deadline: Callable[[], bool]) -> None:
        self._raw = raw
        self._input = head
        self._deadline = deadline
        self._inflate = zlib.decompressobj(wbits=31)
        self._buffer = b""
        self._done = False
        self.compressed = len(head)

    def _more(self) -> bool:
        """Decompress the next slice into the buffer; False at the end of the data."""
        if self._deadline():
            raise _OutOfTime()
        if not self._input:
            if self._done:
                return False
            self._input = self._raw.read(CHUNK)
            if not self._input:
                self._done = True
                if not self._inflate.eof:
                    raise _Unreadable(
                        f"the gzip data ends early, after {self.compressed:,} bytes (an incomplete upload?)"
                    )
                return False
            self.compressed += len(self._input)
        if self._inflate.eof:
            if not GZIP_MAGIC.startswith(self._input[:2]):  # padding after the last member: ignored
                self._input, self._done = b"", True
                return False
            self._inflate = zlib.decompressobj(wbits=31)  # the next member of a multi-member gzip
        try:
            out = self._inflate.decompress(self._input, OUT_CHUNK)
        except zlib.error as exc:
            raise _Unreadable(f"the gzip data is corrupt near byte {self.compressed:,} ({exc})") from None
        self._input = self._inflate.unused_data if self._inflate.eof else self._inflate.unconsumed_tail
        self._buffer += out
        return True

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._buffer) < size) and self._more():
            pass
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def _what_it_is(head: bytes) -> str:
    """What a file that is not gzip looks like, from its first bytes."""
    if not head:
        return "is empty (0 bytes)"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "is a tar archive that is not gzip-compressed"
    if head.startswith(b"PK\x03\x04"):
        return "is a zip file, not a gzip-compressed tar archive"
    if head.startswith(b"BZh"):
        return "is bzip2-compressed, not gzip-compressed"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "is xz-compressed, not gzip-compressed"
    return f"is not gzip-compressed (it starts with {head[:4].hex(' ')}, gzip starts with 1f 8b)"


def inspect_archive(
    raw: BinaryIO,
    patterns: Sequence[str],
    *,
    where: str,
    deadline: Callable[[], bool] = lambda: False,
) -> ArchiveContents:
    """Stream a model.tar.gz and list its files, stopping once every pattern matched at the top level.

    ArchiveError says what is wrong with the gzip or tar layer; a missing serving file is not an
    error here (see :func:`archive_problems`). Errors of the underlying stream (the network) propagate.
    """
    import tarfile

    pack = "pack the model files with: tar -czf model.tar.gz -C <folder holding the files> ."
    head = raw.read(512)
    while len(head) < 512:  # a stream may return short reads
        more = raw.read(512 - len(head))
        if not more:
            break
        head += more
    if not head.startswith(GZIP_MAGIC):
        raise ArchiveError(Problem(where, _what_it_is(head), pack))
    stream = _Gunzip(raw, head, deadline)
    files: list[str] = []
    wanted = list(patterns)
    try:
        try:
            archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed below
        except tarfile.TarError as exc:
            raise ArchiveError(Problem(where, f"is gzip-compressed but holds no tar archive ({exc})", pack)) from None
        try:
            for member in archive:
                if not member.isfile():
                    continue
                name = member.name
                while name.startswith("./"):
                    name = name[2:]
                files.append(name)
                if "/" not in name:
                    wanted = [p for p in wanted if not fnmatch.fnmatchcase(name, p)]
                if patterns and not wanted:
                    return ArchiveContents(tuple(files), complete=False, compressed_bytes=stream.compressed)
        except (tarfile.TarError, EOFError) as exc:
            raise ArchiveError(
                Problem(
                    where,
                    f"the tar archive inside is truncated or corrupt after {len(files)} file(s) ({exc})",
                    "upload model.tar.gz again, then deploy.json",
                )
            ) from None
        finally:
            archive.close()
    except _Unreadable as exc:
        raise ArchiveError(Problem(where, str(exc), "upload model.tar.gz again, then deploy.json")) from None
    except _OutOfTime:
        raise ArchiveError(
            Problem(
                where,
                f"could not be checked in time: {stream.compressed:,} bytes read, {len(files)} file(s) seen, "
                f"still missing {', '.join(wanted)}",
                "put the files the container serves first in the archive (tar -czf model.tar.gz "
                "<serving files> <the rest>), so the check finds them without reading it all",
            )
        ) from None
    return ArchiveContents(tuple(files), complete=True, compressed_bytes=stream.compressed)


def archive_problems(
    contents: ArchiveContents,
    patterns: Sequence[str],
    *,
    algorithm: Algorithm,
    where: str,
    beside: Collection[str] = (),
) -> list[Problem]:
    """What model.tar.gz lacks for ``algorithm`` to serve it (``beside``: names next to it in the folder)."""
    if not contents.files:
        return [
            Problem(
                where,
                "holds no files",
                "pack the model files with: tar -czf model.tar.gz -C <folder holding the files> .",
            )
        ]
    problems: list[Problem] = []
    top = contents.top_level
    listed = ", ".join(contents.files[:MAX_LISTED]) + (" ..." if len(contents.files) > MAX_LISTED else "")
    why = SERVING_HINTS.get(algorithm.name, f"the {algorithm.title} container serves {', '.join(patterns)}")
    for pattern in patterns:
        if any(fnmatch.fnmatchcase(name, pattern) for name in top):
            continue
        nested = next((n for n in contents.files if fnmatch.fnmatchcase(n.rsplit("/", 1)[-1], pattern)), None)
        loose = next((n for n in sorted(beside) if fnmatch.fnmatchcase(n, pattern)), None)
        if nested is not None:
            folder = nested.rsplit("/", 1)[0]
            problems.append(
                Problem(
                    where,
                    f"holds {nested} inside the folder {folder}/, but SageMaker extracts the archive into "
                    f"/opt/ml/model and the container looks for {pattern} at the top level",
                    f"pack from inside the folder: tar -czf model.tar.gz -C {folder} .",
                )
            )
        elif loose is not None:
            problems.append(
                Problem(
                    where,
                    f"holds no {pattern}: {loose} lies beside model.tar.gz in the folder, but the container "
                    "reads it from inside the archive",
                    f"add it to the archive, beside the model files (tar -czf model.tar.gz <model files> {loose} "
                    "...), then upload model.tar.gz and deploy.json again",
                )
            )
        else:
            problems.append(
                Problem(
                    where,
                    f"holds no file named {pattern} at its top level ({why}); it holds: {listed}",
                    "check that the model was trained with this algorithm, and pack its files at the top level",
                )
            )
    return problems


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
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
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
        patterns = spec.serving_patterns()
        until = scan_until
        try:
            contents = inspect_archive(
                body,
                patterns,
                where=where,
                deadline=(lambda: until is not None and self._clock() > until),
            )
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        problems = archive_problems(contents, patterns, algorithm=spec.algorithm, where=where)
        if problems:
            problems = archive_problems(
                contents, patterns, algorithm=spec.algorithm, where=where, beside=self._beside(bucket, key)
            )
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
