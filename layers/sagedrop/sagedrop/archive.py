"""model.tar.gz of a model brought trained: read to its last byte and checked before anything is created.

:func:`inspect_archive` streams the archive (S3 body in 1 MiB reads, decompressed in 64 KiB slices, so
memory stays small whatever its size), lists every regular file and keeps the first bytes of each
top-level one, then reads the gzip stream to its end: a truncated upload or a corrupt byte is found
here, not by the endpoint ("Compressed file ended before the end-of-stream marker" when SageMaker
extracts the archive). zlib checks the gzip trailer's CRC-32 and length of every member.

:func:`archive_problems` says what the algorithm's container would not serve:

* containers that look for named files (``Algorithm.serving_files_for``): each must be at the top level;
* containers that load every top-level file whatever its name (``Algorithm.directory_loading``, the
  XGBoost container): every such file must be a model, so a README or a feature list at the top level
  is refused with its name, and a version that loads only one file gets exactly one.

The time to read an archive is bounded by a deadline (the deploy function's remaining time); past it
the archive is refused, nothing created, with the figures (:data:`LAMBDA_MB_PER_S`).
"""

from __future__ import annotations

import fnmatch
import tarfile
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sagedrop.algorithms.base import Algorithm, DirectoryLoading
from sagedrop.errors import Problem, UserError

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1024 * 1024
"""Compressed bytes read from S3 at a time."""
OUT_CHUNK = 64 * 1024
"""Decompressed bytes produced at a time (tarfile reads 10 KiB records)."""
HEAD_BYTES = 512
"""How much of each top-level file is kept to tell a model from a text file."""
MAX_LISTED = 12
"""How many archive members an error message lists."""
MEASURED_MB_PER_S = 200
"""Decompressed MB per second this reader gets through on one core (measured on the build machine with
200 MB archives, random and CSV-like data: 175-240 MB/s; docs/bring-a-model.md gives the figures). Inflating is the
bound: compressible data costs as much per decompressed byte as random data."""
DEPLOY_MEMORY_MB = 1024
"""The deploy function's MemorySize in template.yaml."""
LAMBDA_MB_PER_S = MEASURED_MB_PER_S * DEPLOY_MEMORY_MB // 1769
"""The same in the deploy function: "At 1,769 MB, a function has the equivalent of one vCPU"
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), and CPU scales with memory.
With about 240 s to read (the function's 300 s timeout less what the copy and the rollout keep), archives
up to about 25 GB of decompressed data are read in time; S3's read speed in Lambda was not measured here."""

PACK = "pack the model files with: tar -czf model.tar.gz -C <folder holding the files> ."
AGAIN = "upload model.tar.gz again (the whole file), then deploy.json"


class ArchiveError(UserError):
    """model.tar.gz is missing, not a gzip tar, or lacks what the algorithm serves."""

    kind = "cannot deploy the model archive"


class _Unreadable(Exception):
    """The gzip layer of the archive is broken (raised through tarfile by the reader)."""


class _OutOfTime(Exception):
    """The scan reached its deadline."""


@dataclass(frozen=True)
class ArchiveContents:
    """What a scan of model.tar.gz saw (regular files only, names without a leading ``./``)."""

    files: tuple[str, ...]
    complete: bool = True
    """True when the whole archive was read, gzip trailer included."""
    compressed_bytes: int = 0
    heads: tuple[tuple[str, bytes], ...] = ()
    """The first :data:`HEAD_BYTES` bytes of each top-level file."""

    @property
    def top_level(self) -> tuple[str, ...]:
        return tuple(name for name in self.files if "/" not in name)

    def head(self, name: str) -> bytes:
        return dict(self.heads).get(name, b"")


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
                        f"the gzip data ends early, after {self.compressed:,} bytes: the file is cut short "
                        "(an interrupted upload?)"
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

    def drain(self) -> None:
        """Read what is left (the tar's end blocks and padding, the gzip trailer) without keeping it."""
        while self.read(OUT_CHUNK):
            pass


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


def _name(member: tarfile.TarInfo) -> str:
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    return name


def inspect_archive(raw: BinaryIO, *, where: str, deadline: Callable[[], bool] = lambda: False) -> ArchiveContents:
    """Stream a model.tar.gz to its last byte: its files, the first bytes of the top-level ones.

    ArchiveError says what is wrong with the gzip or tar layer, or that the deadline came first; what
    the container needs is checked by :func:`archive_problems`. Errors of the stream (the network) propagate.
    """
    head = raw.read(512)
    while len(head) < 512:  # a stream may return short reads
        more = raw.read(512 - len(head))
        if not more:
            break
        head += more
    if not head.startswith(GZIP_MAGIC):
        raise ArchiveError(Problem(where, _what_it_is(head), PACK))
    stream = _Gunzip(raw, head, deadline)
    files: list[str] = []
    heads: list[tuple[str, bytes]] = []
    try:
        try:
            archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed below
        except tarfile.TarError as exc:
            raise ArchiveError(Problem(where, f"is gzip-compressed but holds no tar archive ({exc})", PACK)) from None
        try:
            for member in archive:
                if not member.isfile():
                    continue
                name = _name(member)
                files.append(name)
                if "/" not in name:
                    extracted = archive.extractfile(member)
                    heads.append((name, extracted.read(HEAD_BYTES) if extracted is not None else b""))
        except (tarfile.TarError, EOFError) as exc:
            raise ArchiveError(
                Problem(
                    where,
                    f"the tar archive inside is truncated or corrupt after {len(files)} file(s) ({exc})",
                    AGAIN,
                )
            ) from None
        finally:
            archive.close()
        stream.drain()
    except _Unreadable as exc:
        raise ArchiveError(Problem(where, str(exc), AGAIN)) from None
    except _OutOfTime:
        raise ArchiveError(
            Problem(
                where,
                f"could not be read to its end in the deploy function's time: {stream.compressed:,} bytes read "
                f"(sagedrop reads about {LAMBDA_MB_PER_S} MB/s of decompressed data), {len(files)} file(s) seen. "
                "sagedrop reads the whole archive "
                "before it creates anything, so that a truncated or corrupt upload cannot reach an endpoint",
                "make the archive smaller (leave out what the container does not load: checkpoints, data, logs), "
                "or host it from a training job's output",
            )
        ) from None
    return ArchiveContents(tuple(files), True, stream.compressed, tuple(heads))


# ------------------------------------------------------------------------------------------------ checks


def _listed(contents: ArchiveContents) -> str:
    return ", ".join(contents.files[:MAX_LISTED]) + (" ..." if len(contents.files) > MAX_LISTED else "")


def looks_like_text(head: bytes) -> bool:
    """True for the start of a UTF-8 text file (a README, a feature list, a CSV): no NUL byte and valid
    UTF-8 (a sequence cut at the end of ``head`` is allowed)."""
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def looks_like_json_model(head: bytes) -> bool:
    """An XGBoost model saved as JSON or UBJSON starts with an object holding ``learner``."""
    return head.lstrip().startswith(b"{") and b"learner" in head


def directory_problems(contents: ArchiveContents, loading: DirectoryLoading, *, where: str) -> list[Problem]:
    """Every file the container loads must be a model; a version that loads one file gets exactly one."""
    top = contents.top_level
    loaded = [name for name in top if not (loading.skips_dotfiles and name.startswith("."))]
    rule = (
        "the container loads every file at the top level of the archive as a model, whatever its name"
        + ("" if loading.skips_dotfiles else ", dotfiles too")
        + f" ({loading.source})"
    )
    problems: list[Problem] = []
    for name in loaded:
        head = contents.head(name)
        if not head:
            problems.append(Problem(where, f"holds the empty file {name} at its top level; {rule}", f"remove {name}"))
        elif head.startswith(b"\x00\x05\x16\x07"):
            problems.append(
                Problem(
                    where,
                    f"holds {name}, a macOS resource-fork file, at its top level; {rule}",
                    "pack on macOS with COPYFILE_DISABLE=1 tar -czf model.tar.gz ...",
                )
            )
        elif looks_like_text(head) and not looks_like_json_model(head):
            problems.append(
                Problem(
                    where,
                    f"holds {name} at its top level, a text file and not a model; {rule}, so the endpoint would "
                    "fail to start",
                    f"remove {name} from the archive (keep notes beside model.tar.gz, not inside it)",
                )
            )
    if problems:
        return problems
    if not loaded:
        nested = [n for n in contents.files if "/" in n]
        hint = (
            f"pack from inside the folder: tar -czf model.tar.gz -C {nested[0].rsplit('/', 1)[0]} ."
            if nested
            else "put the saved model (pickle.dump(booster) or booster.save_model(...)) at the top level"
        )
        return [Problem(where, f"holds no model file at its top level ({rule}); it holds: {_listed(contents)}", hint)]
    if len(loaded) > 1 and not loading.loads_every_file:
        return [
            Problem(
                where,
                f"holds {len(loaded)} files at its top level ({', '.join(loaded[:MAX_LISTED])}), but this version's "
                f"container loads only the first one the directory lists, in no set order ({loading.source})",
                "keep exactly one model file in the archive",
            )
        ]
    return []


def archive_problems(
    contents: ArchiveContents,
    patterns: Sequence[str],
    *,
    algorithm: Algorithm,
    where: str,
    beside: Collection[str] = (),
    loading: DirectoryLoading | None = None,
) -> list[Problem]:
    """What model.tar.gz lacks for ``algorithm`` to serve it (``beside``: names next to it in the folder;
    ``loading``: the rule of a container that loads every top-level file)."""
    if not contents.files:
        return [Problem(where, "holds no files", PACK)]
    if loading is not None:
        return directory_problems(contents, loading, where=where)
    problems: list[Problem] = []
    top = contents.top_level
    why = algorithm.serving_hint or f"the {algorithm.title} container serves {', '.join(patterns)}"
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
                    f"holds no file named {pattern} at its top level ({why}); it holds: {_listed(contents)}",
                    "check that the model was trained with this algorithm, and pack its files at the top level",
                )
            )
    return problems
