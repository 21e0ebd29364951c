"""`sagedrop submit DIR`: check a model folder with the functions' own checks, then upload it.

Two kinds of folder:

* **train**: ``training.json`` and the channel folders (``train/``, ``validation/``, ...). The manifest
  and the data go through exactly the validation the train function runs (the same
  ``sagedrop.manifest`` and ``sagedrop.datacheck`` code), every problem of every channel at once.
  Channels are uploaded first and ``training.json`` last: its arrival is what starts training.
* **bring a model**: ``deploy.json`` and ``model.tar.gz``. deploy.json is validated and the archive
  read to its end and checked for what the algorithm's container serves, as the deploy function does
  (``sagedrop.pretrained``, ``sagedrop.archive``). ``model.tar.gz`` goes first, ``deploy.json`` last.

So a mistake is found on the laptop, not after the upload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagedrop import naming
from sagedrop.datacheck import S3Store, check_folder
from sagedrop.errors import ManifestError, Problem
from sagedrop.manifest import Manifest, load_json, parse
from sagedrop.pretrained import ARCHIVE_FILE, DEPLOY_FILE, PretrainedManifest


class LocalStore:
    """The ObjectStore the data checks read, over a local folder (bucket ``""``) and S3 for the rest."""

    def __init__(self, root: Path, s3: Any | None = None) -> None:
        self.root = root
        self._s3 = S3Store(s3) if s3 is not None else None

    def _remote(self, bucket: str) -> S3Store:
        if self._s3 is None:
            raise RuntimeError(f"the manifest names s3://{bucket}/: checking it needs a target stack")
        return self._s3

    def subfolders(self, bucket: str, prefix: str) -> list[str]:
        if bucket:
            return self._remote(bucket).subfolders(bucket, prefix)
        base = self.root / prefix
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def objects(self, bucket: str, prefix: str, limit: int) -> list[tuple[str, int]]:
        if bucket:
            return self._remote(bucket).objects(bucket, prefix, limit)
        found: list[tuple[str, int]] = []
        base = self.root / prefix
        candidates = (
            [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []
        )
        for path in candidates:
            found.append((path.relative_to(self.root).as_posix(), path.stat().st_size))
            if len(found) >= limit:
                break
        return found

    def head_bytes(self, bucket: str, key: str, count: int) -> bytes:
        if bucket:
            return self._remote(bucket).head_bytes(bucket, key, count)
        with open(self.root / key, "rb") as handle:
            return handle.read(count)

    def uri(self, bucket: str, key: str) -> str:
        return f"s3://{bucket}/{key}" if bucket else str(self.root / key)


@dataclass
class Plan:
    manifest: Manifest | PretrainedManifest
    files: list[tuple[Path, str]]  # (local file, key) in upload order, the manifest last
    bucket: str
    folder: str  # s3 key prefix of the model folder

    @property
    def total_bytes(self) -> int:
        return sum(path.stat().st_size for path, _ in self.files)

    @property
    def brought(self) -> bool:
        """A trained model (deploy.json), not a training folder."""
        return isinstance(self.manifest, PretrainedManifest)


def manifest_file(directory: Path) -> Path:
    """The folder's training.json or deploy.json; ManifestError when it has neither, or both."""
    training, deploy = directory / naming.MANIFEST_FILE, directory / DEPLOY_FILE
    if training.is_file() and deploy.is_file():
        raise ManifestError(
            Problem(
                str(directory),
                "holds both training.json (train a model) and deploy.json (bring a trained one)",
                "keep the one you mean: a folder is one model",
            )
        )
    if training.is_file() or deploy.is_file():
        return training if training.is_file() else deploy
    raise ManifestError(
        Problem(
            str(directory),
            "there is no training.json or deploy.json here",
            "write training.json next to the channel folders, or deploy.json next to model.tar.gz "
            "(see the manifest and bring-a-model references)",
        )
    )


def check(directory: Path, s3: Any | None = None) -> Manifest | PretrainedManifest:
    """Validate DIR exactly as the train (or deploy) function would; ManifestError/DataError otherwise."""
    path = manifest_file(directory)
    data = load_json(path.read_bytes(), source=str(path))
    default_name = naming.model_name_from_key(f"{directory.resolve().name}/{path.name}")
    if path.name == DEPLOY_FILE:
        return _check_brought(directory, path, data, default_name)
    manifest = parse(data, default_name=default_name, source=str(path))
    check_folder(manifest, LocalStore(directory, s3), "", "", naming.MANIFEST_FILE, source=str(path))
    return manifest


def _check_brought(directory: Path, path: Path, data: Any, default_name: str) -> PretrainedManifest:
    """deploy.json parsed and model.tar.gz read to its end, as the deploy function checks them."""
    from sagedrop.archive import ArchiveError, inspect_archive
    from sagedrop.pretrained import parse_deploy_json, serving_problems

    spec = parse_deploy_json(data, default_name=default_name, source=str(path))
    archive = directory / ARCHIVE_FILE
    if not archive.is_file():
        raise ArchiveError(
            Problem(str(archive), "does not exist", "put the trained model, packed as model.tar.gz, beside deploy.json")
        )
    with open(archive, "rb") as raw:
        contents = inspect_archive(raw, where=str(archive))
    beside = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name not in (ARCHIVE_FILE, DEPLOY_FILE))
    problems = serving_problems(contents, spec, str(archive), lambda: beside)
    if problems:
        raise ArchiveError(problems)
    return spec


def plan(directory: Path, bucket: str, prefix: str, s3: Any | None = None) -> Plan:
    manifest = check(directory, s3)
    folder = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    folder += f"{directory.resolve().name}/"
    if isinstance(manifest, PretrainedManifest):
        files = [(directory / name, folder + name) for name in (ARCHIVE_FILE, DEPLOY_FILE)]
        return Plan(manifest, files, bucket, folder)
    channel_dirs = (
        [manifest.channels[name].folder or name for name in manifest.channels if not manifest.channels[name].s3_uri]
        if manifest.channels
        else [name for name in manifest.algorithm.channel_names if (directory / name).is_dir()]
    )
    files: list[tuple[Path, str]] = []
    for channel in channel_dirs:
        base = directory / channel.strip("/")
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in paths:
            if path.name.startswith("."):
                continue
            files.append((path, folder + path.relative_to(directory).as_posix()))
    files.append((directory / naming.MANIFEST_FILE, folder + naming.MANIFEST_FILE))
    return Plan(manifest, files, bucket, folder)


def upload(plan_: Plan, s3: Any, progress: Callable[[int], None] | None = None) -> None:
    """Upload the channels (or model.tar.gz), then the manifest; ``progress`` receives bytes as they go."""
    for path, key in plan_.files:
        s3.upload_file(str(path), plan_.bucket, key, Callback=progress)


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"


__all__ = ["LocalStore", "Plan", "check", "human_bytes", "manifest_file", "plan", "upload"]
