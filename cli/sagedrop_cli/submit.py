"""`sagedrop submit DIR`: check a model folder with the train function's own checks, then upload it.

The folder holds ``training.json`` and the channel folders (``train/``, ``validation/``, ...).
The manifest and the data go through exactly the validation the train function runs (the same
``sagedrop.manifest`` and ``sagedrop.datacheck`` code), so a mistake is found on the laptop,
not after the upload. Channels are uploaded first and ``training.json`` last: its arrival is
what starts training, so the job sees complete data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagedrop import naming
from sagedrop.datacheck import S3Store, check_channels_data, resolve_channels
from sagedrop.manifest import Manifest, load_json, parse


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
    manifest: Manifest
    files: list[tuple[Path, str]]  # (local file, key) in upload order, training.json last
    bucket: str
    folder: str  # s3 key prefix of the model folder

    @property
    def total_bytes(self) -> int:
        return sum(path.stat().st_size for path, _ in self.files)


def check(directory: Path, s3: Any | None = None) -> Manifest:
    """Validate DIR exactly as the train function would; ManifestError/DataError otherwise."""
    manifest_path = directory / naming.MANIFEST_FILE
    if not manifest_path.is_file():
        from sagedrop.errors import ManifestError, Problem

        raise ManifestError(
            Problem(
                str(manifest_path),
                "there is no training.json here",
                "write one (see docs/manifest.md) next to the channel folders",
            )
        )
    data = load_json(manifest_path.read_bytes(), source=str(manifest_path))
    default_name = naming.model_name_from_key(f"{directory.resolve().name}/{naming.MANIFEST_FILE}")
    manifest = parse(data, default_name=default_name, source=str(manifest_path))
    store = LocalStore(directory, s3)
    channels = resolve_channels(manifest, store, "", "", naming.MANIFEST_FILE)
    check_channels_data(manifest, store, channels, source=str(manifest_path))
    return manifest


def plan(directory: Path, bucket: str, prefix: str, s3: Any | None = None) -> Plan:
    manifest = check(directory, s3)
    folder = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    folder += f"{directory.resolve().name}/"
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
    """Upload the channels, then training.json; ``progress`` receives bytes as they go."""
    for path, key in plan_.files:
        s3.upload_file(str(path), plan_.bucket, key, Callback=progress)


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"


__all__ = ["LocalStore", "Plan", "check", "human_bytes", "plan", "upload"]
