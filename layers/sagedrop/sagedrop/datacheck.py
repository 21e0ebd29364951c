"""Channels and data checks before paying for a training job.

``resolve_channels`` turns the manifest's channels (or the sibling folders of the manifest)
into S3 prefixes with content types; ``check_sample`` inspects the first bytes of the first
object of a channel. Both report every problem with the S3 location, what is wrong and how to
fix it. The checks are cheap on purpose (one listing and one ranged GET per channel): they catch
the mistakes that otherwise cost a job start-up (header rows, wrong column counts, labels not
first, wrong file types), not every row of a large data set.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sagedrop.algorithms.base import Algorithm
from sagedrop.errors import DataError, Problem
from sagedrop.manifest import ChannelRequest, Manifest, channel_modes

SAMPLE_BYTES = 64 * 1024
MAX_REPORTED = 5  # per channel and kind of mistake, so one bad file does not flood the message

RECORDIO_MAGIC = b"\x0a\x23\xd7\xce"  # 0xced7230a little-endian (MXNet / SageMaker RecordIO)
PARQUET_MAGIC = b"PAR1"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ObjectStore(Protocol):
    """What the checks need from S3 (an adapter over the client, or a fake in tests)."""

    def subfolders(self, bucket: str, prefix: str) -> list[str]: ...

    def objects(self, bucket: str, prefix: str, limit: int) -> list[tuple[str, int]]: ...

    def head_bytes(self, bucket: str, key: str, count: int) -> bytes: ...

    def uri(self, bucket: str, key: str) -> str:
        """How messages name a location (s3://bucket/key, or a local path)."""
        ...


class S3Store:
    """ObjectStore over a boto3 S3 client."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def subfolders(self, bucket: str, prefix: str) -> list[str]:
        names: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.append(common["Prefix"][len(prefix) :].rstrip("/"))
        return names

    def objects(self, bucket: str, prefix: str, limit: int) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": min(limit, 1000)}):
            for obj in page.get("Contents", []):
                found.append((obj["Key"], obj["Size"]))
                if len(found) >= limit:
                    return found
        return found

    def head_bytes(self, bucket: str, key: str, count: int) -> bytes:
        response = self._s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{count - 1}")
        return response["Body"].read()

    def uri(self, bucket: str, key: str) -> str:
        return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


@dataclass(frozen=True)
class ResolvedChannel:
    name: str
    bucket: str
    prefix: str
    content_type: str | None
    distribution: str
    sample_key: str | None
    input_mode: str | None = None
    compression: str | None = None

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def _is_data_object(key: str, size: int) -> bool:
    name = key.rsplit("/", 1)[-1]
    return size > 0 and not key.endswith("/") and not name.startswith(".")


def resolve_channels(
    manifest: Manifest,
    store: ObjectStore,
    bucket: str,
    folder: str,
    manifest_key: str,
    *,
    problems_out: list[Problem] | None = None,
) -> dict[str, ResolvedChannel]:
    """Channels with prefixes and content types; DataError if a channel is missing or empty.

    With ``problems_out`` the problems are appended there and the channels that did resolve are returned,
    so a caller can go on to sample them and report everything at once (``sagedrop check``)."""
    algorithm = manifest.algorithm
    problems: list[Problem] = []
    requests: dict[str, ChannelRequest]
    if manifest.channels is None:
        present = set(store.subfolders(bucket, folder))
        requests = {name: ChannelRequest(name) for name in algorithm.channel_names if name in present}
    else:
        requests = manifest.channels

    resolved: dict[str, ResolvedChannel] = {}
    for name, request in requests.items():
        if request.s3_uri:
            channel_bucket, prefix = split_s3_uri(request.s3_uri)
        else:
            channel_bucket, prefix = bucket, folder + (request.folder or name).strip("/") + "/"
            if (request.folder or "").endswith((".csv", ".txt", ".rec", ".json", ".parquet", ".libsvm")):
                prefix = prefix.rstrip("/")  # a single file named as the channel
        location = store.uri(channel_bucket, prefix)
        objects = [
            (key, size) for key, size in store.objects(channel_bucket, prefix, 1000) if _is_data_object(key, size)
        ]
        objects = [(key, size) for key, size in objects if key != manifest_key]
        if not objects:
            problems.append(
                Problem(
                    f"channel {name} ({location})",
                    "holds no data files",
                    "upload the data before training.json, or remove the channel",
                )
            )
            continue
        sample_key = objects[0][0]
        spec = algorithm.channel(name)
        content_type = request.content_type or manifest.content_type
        if content_type is None and spec is not None:
            content_type = spec.content_type_for(sample_key)
        if content_type is None and spec is not None and spec.content_types:
            problems.append(
                Problem(
                    f"channel {name} ({store.uri(channel_bucket, sample_key)})",
                    "cannot tell the content type from the file name",
                    f"set channels.{name}.content_type or use one of the extensions "
                    + ", ".join(sorted(spec.content_types)),
                )
            )
        if spec is not None and spec.required_files:
            names = {key.rsplit("/", 1)[-1] for key, _ in objects}
            for needed in spec.required_files:
                if needed not in names:
                    problems.append(Problem(f"channel {name} ({location})", f"{needed} is missing", spec.files_hint))
        resolved[name] = ResolvedChannel(
            name=name,
            bucket=channel_bucket,
            prefix=prefix,
            content_type=content_type,
            distribution=request.distribution or "FullyReplicated",
            sample_key=sample_key,
            input_mode=request.input_mode,
            compression=request.compression,
        )

    chosen = {name: channel.content_type for name, channel in resolved.items()}
    missing_ok = {name: chosen.get(name) for name in requests}  # report absent required ones once
    for problem in algorithm.check_channels(missing_ok, manifest.hyperparameters, "$.channels"):
        if manifest.channels is None and "needs a" in problem.message:
            channel = problem.path.rsplit(".", 1)[-1]
            problems.append(
                Problem(
                    f"channel {channel} ({store.uri(bucket, f'{folder}{channel}/')})",
                    problem.message,
                    f"upload the data to {store.uri(bucket, f'{folder}{channel}/')} before training.json",
                )
            )
        else:
            problems.append(problem)
    modes = channel_modes(resolved, manifest.content_type, manifest.training)
    problems.extend(algorithm.check_channel_modes(modes, manifest.hyperparameters, "$.channels"))
    if problems_out is not None:
        problems_out.extend(problems)
    elif problems:
        raise DataError(problems, source=store.uri(bucket, manifest_key))
    return resolved


# ------------------------------------------------------------------------------------------------
# Sample checks
# ------------------------------------------------------------------------------------------------


def _decode_prefix(sample: bytes, truncated: bool) -> tuple[str | None, str | None]:
    """UTF-8 text of a sample whose last character may have been cut; (text, error)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(sample, final=not truncated)
    except UnicodeDecodeError as exc:
        return None, f"is not UTF-8 text (byte {exc.start} is 0x{sample[exc.start]:02x})"
    return text.lstrip("\ufeff"), None


def _complete_lines(text: str, truncated: bool) -> list[tuple[int, str]]:
    lines = text.splitlines()
    if truncated and lines and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line was cut by the ranged read
    return [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@dataclass
class SampleFacts:
    """What a sample revealed (used to compare channels and to fill 'auto' values)."""

    columns: int | None = None
    features: int | None = None
    """Feature columns per row: a CSV's columns after the label (None where the sample cannot tell)."""

    @property
    def feature_count(self) -> int | None:
        if self.features is not None:
            return self.features
        return self.columns - 1 if self.columns is not None and self.columns > 1 else None


def check_sample(
    algorithm: Algorithm,
    values: Mapping[str, Any],
    channel: str,
    content_type: str | None,
    location: str,
    sample: bytes,
    truncated: bool,
    check_labels: bool = True,
) -> tuple[list[Problem], SampleFacts]:
    """Problems in the first bytes of a channel's first object, and what they show.

    ``check_labels`` False: the labels are raw values that label_bins turns into classes later.
    """
    where = f"channel {channel} ({location})"
    facts = SampleFacts()
    if content_type == "text/csv":
        return _check_csv(algorithm, values, where, sample, truncated, facts, check_labels), facts
    if content_type == "text/libsvm":
        return _check_libsvm(algorithm, values, where, sample, truncated), facts
    if content_type in ("application/x-recordio-protobuf", "application/x-recordio"):
        if content_type == "application/x-recordio-protobuf":
            facts.features = recordio_feature_count(sample)
        if not sample.startswith(RECORDIO_MAGIC):
            return [
                Problem(
                    where,
                    f"does not start with the RecordIO magic number 0xced7230a (first bytes: {sample[:4].hex()})",
                    "write it with the RecordIO writer (sagedrop prepare recordio / im2rec) or fix the content type",
                )
            ], facts
        return [], facts
    if content_type == "application/x-parquet":
        if not sample.startswith(PARQUET_MAGIC):
            return [
                Problem(where, "is not a Parquet file (no PAR1 magic)", "write Parquet or fix the content type")
            ], facts
        return [], facts
    if content_type == "application/x-image":
        name = location.rsplit("/", 1)[-1].lower()
        if name.endswith(".lst"):
            return _check_lst(where, sample, truncated), facts
        if not sample.startswith((JPEG_MAGIC, PNG_MAGIC)):
            return [Problem(where, "is neither a JPEG nor a PNG image", "use .jpg or .png images")], facts
        return [], facts
    if content_type in ("text/plain", "application/jsonlines", "application/json"):
        text, error = _decode_prefix(sample, truncated)
        if error:
            return [Problem(where, error, "save the text as UTF-8")], facts
        assert text is not None
        message = algorithm.check_text_lines([line for _, line in _complete_lines(text, truncated)], values)
        return ([Problem(where, message)] if message else []), facts
    return [], facts


def _check_csv(
    algorithm: Algorithm,
    values: Mapping[str, Any],
    where: str,
    sample: bytes,
    truncated: bool,
    facts: SampleFacts,
    check_labels: bool = True,
) -> list[Problem]:
    text, error = _decode_prefix(sample, truncated)
    if error:
        return [Problem(where, error, "save the CSV as UTF-8")]
    assert text is not None
    lines = _complete_lines(text, truncated)
    if not lines:
        return [
            Problem(where, "has no complete CSV row in its first 64 KiB", "check the file is a CSV, one row per line")
        ]
    problems: list[Problem] = []
    first_number, first_line = lines[0]
    first_cells = [cell.strip() for cell in first_line.split(",")]
    if not any(_is_number(cell) for cell in first_cells if cell):
        problems.append(
            Problem(
                where,
                f"line {first_number} looks like a header row ({first_line[:80]!r})",
                "remove the header: SageMaker reads every line as data, label first",
            )
        )
        lines = lines[1:]
    columns = None
    bad_cells = bad_widths = bad_labels = 0
    for number, line in lines:
        cells = [cell.strip() for cell in line.split(",")]
        if columns is None:
            columns = len(cells)
            if columns < 2:
                problems.append(
                    Problem(where, f"line {number} has {columns} column", "each row needs the label and the features")
                )
        elif len(cells) != columns and bad_widths < MAX_REPORTED:
            bad_widths += 1
            problems.append(
                Problem(
                    where,
                    f"line {number} has {len(cells)} columns, line {lines[0][0]} has {columns}",
                    "every row needs the same number of columns",
                )
            )
            continue
        for index, cell in enumerate(cells, start=1):
            if not _is_number(cell) and bad_cells < MAX_REPORTED:
                bad_cells += 1
                problems.append(
                    Problem(
                        where,
                        f"line {number}, column {index} is not a number: {cell[:40]!r}",
                        "the algorithm reads numbers only: encode categories as numbers",
                    )
                )
        if check_labels and cells and _is_number(cells[0]) and bad_labels < MAX_REPORTED:
            reason = algorithm.check_label(float(cells[0]), values)
            if reason:
                bad_labels += 1
                problems.append(
                    Problem(
                        where, f"line {number}: the label (first column) {cells[0]!r} {reason}", _label_hint(reason)
                    )
                )
    facts.columns = columns
    expected = algorithm.expected_feature_count(values)
    if columns is not None and expected is not None and columns - 1 != expected:
        problems.append(
            Problem(
                where,
                f"rows have {columns - 1} feature columns after the label, feature_dim says {expected}",
                f'set feature_dim to {columns - 1} (or "auto"), or fix the data',
            )
        )
    return problems


def recordio_feature_count(sample: bytes) -> int | None:
    """Features per record of RecordIO-protobuf data (see :func:`sagedrop.recordio.feature_width`)."""
    from sagedrop import recordio

    return recordio.feature_width(sample)


def _label_hint(reason: str) -> str:
    """How to fix labels outside the range the algorithm takes (``reason`` states the range)."""
    if "from 0 to" in reason:
        return f"every label {reason}: classes are numbered from 0, so classes 1 to N become 0 to N-1"
    return f"every label {reason}: fix the labels or choose the hyperparameters that fit them"


def _check_libsvm(
    algorithm: Algorithm, values: Mapping[str, Any], where: str, sample: bytes, truncated: bool
) -> list[Problem]:
    text, error = _decode_prefix(sample, truncated)
    if error:
        return [Problem(where, error, "save the file as UTF-8")]
    assert text is not None
    problems: list[Problem] = []
    for number, line in _complete_lines(text, truncated):
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if not _is_number(parts[0]):
            problems.append(
                Problem(
                    where,
                    f"line {number}: the label {parts[0][:40]!r} is not a number",
                    "LibSVM lines are: <label> <index>:<value> ...",
                )
            )
        else:
            reason = algorithm.check_label(float(parts[0]), values)
            if reason:
                problems.append(Problem(where, f"line {number}: the label {parts[0]!r} {reason}", _label_hint(reason)))
        for pair in parts[1:]:
            index, sep, value = pair.partition(":")
            if not sep or not index.isdigit() or not _is_number(value):
                problems.append(
                    Problem(
                        where,
                        f"line {number}: {pair[:40]!r} is not <index>:<value>",
                        "LibSVM lines are: <label> <index>:<value> ...",
                    )
                )
                break
        if len(problems) >= MAX_REPORTED:
            break
    return problems


def _check_lst(where: str, sample: bytes, truncated: bool) -> list[Problem]:
    text, error = _decode_prefix(sample, truncated)
    if error:
        return [Problem(where, error, "save the .lst file as UTF-8")]
    assert text is not None
    problems: list[Problem] = []
    for number, line in _complete_lines(text, truncated):
        cells = line.split("\t")
        if len(cells) < 3 or not cells[0].strip().isdigit() or not all(_is_number(c) for c in cells[1:-1]):
            problems.append(
                Problem(
                    where,
                    f"line {number} is not '<index>\\t<label>\\t<image path>': {line[:60]!r}",
                    "use tab-separated .lst lines (sagedrop prepare images writes them)",
                )
            )
            if len(problems) >= MAX_REPORTED:
                break
    return problems


def check_channels_data(
    manifest: Manifest, store: ObjectStore, channels: Mapping[str, ResolvedChannel], source: str
) -> dict[str, SampleFacts]:
    """Run the sample checks on every channel; DataError listing all problems."""
    problems: list[Problem] = []
    facts: dict[str, SampleFacts] = {}
    for name, channel in channels.items():
        spec = manifest.algorithm.channel(name)
        if channel.sample_key is None or (spec is not None and not spec.holds_records):
            continue
        sample = store.head_bytes(channel.bucket, channel.sample_key, SAMPLE_BYTES + 1)
        truncated = len(sample) > SAMPLE_BYTES
        found, facts[name] = check_sample(
            manifest.algorithm,
            manifest.hyperparameters,
            name,
            channel.content_type,
            store.uri(channel.bucket, channel.sample_key),
            sample[:SAMPLE_BYTES],
            truncated,
            check_labels=manifest.label_bins is None,
        )
        problems.extend(found)
    widths = {name: f.columns for name, f in facts.items() if f.columns is not None}
    if "train" in widths:
        for name, width in widths.items():
            if width != widths["train"]:
                problems.append(
                    Problem(
                        f"channel {name}",
                        f"has {width} columns, train has {widths['train']}",
                        "every channel needs the same columns in the same order",
                    )
                )
    if problems:
        raise DataError(problems, source=source)
    return facts


def check_folder(
    manifest: Manifest, store: ObjectStore, bucket: str, folder: str, manifest_key: str, source: str
) -> tuple[dict[str, ResolvedChannel], dict[str, SampleFacts]]:
    """:func:`resolve_channels` then :func:`check_channels_data` on every channel that has data, so that one
    DataError lists every problem of every channel (an empty validation folder does not hide a bad value
    in train). Used by the train function and ``sagedrop check``."""
    problems: list[Problem] = []
    channels = resolve_channels(manifest, store, bucket, folder, manifest_key, problems_out=problems)
    facts: dict[str, SampleFacts] = {}
    try:
        facts = check_channels_data(manifest, store, channels, source=source)
    except DataError as exc:
        problems.extend(exc.problems)
    if problems:
        raise DataError(problems, source=source)
    return channels, facts
