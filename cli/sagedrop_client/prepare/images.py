"""A folder of class sub-folders -> image-classification training data (im2rec-compatible).

``prepare_images(root, out_dir)`` lists ``root/<class>/**/<image>``, splits every class into
train and validation with a seeded shuffle, and writes a model folder for ``sagedrop submit``:

RecordIO layout (``layout="recordio"``, the default; channels ``train`` and ``validation``)::

    out_dir/train/train.rec            out_dir/train.lst   out_dir/train.idx
    out_dir/validation/validation.rec  out_dir/validation.lst   out_dir/validation.idx
    out_dir/classes.json

Raw-image layout (``layout="raw"``; channels ``train``, ``validation``, ``train_lst``, ``validation_lst``)::

    out_dir/train/<class>/<file>        out_dir/train_lst/train.lst
    out_dir/validation/<class>/<file>   out_dir/validation_lst/validation.lst
    out_dir/classes.json

Format facts, from apache/mxnet ``tools/im2rec.py`` (MXNet 1.x) unless noted:

* ``.lst`` lines are ``index<TAB>label<TAB>relative/path`` with the label written by ``'%f'``
  (``0.000000``); im2rec's ``read_list`` parses every middle column with ``float()``. (MXNet's
  master branch writes ``f'{j}'``, i.e. ``0``; both read back the same.) Paths are relative to the
  image root (RecordIO layout) or to the channel folder (raw layout), with ``/`` separators.
* With ``--recursive`` im2rec walks the root with sorted folder names and gives each folder with
  images the next label; here the classes are the sorted top-level sub-folder names (0, 1, ...)
  and images in deeper folders belong to their top-level class (im2rec would make each nested
  folder a class of its own). Accepted extensions default to im2rec's ``.jpeg .jpg .png``.
* The index is the image's position in the sorted listing (unique across train and validation);
  it becomes the record id: ``IRHeader(flag=0, label, id=index, id2=0)`` + the encoded image,
  and the ``.idx`` key. The lists are shuffled with a seeded RNG (im2rec: ``random.seed(100)``;
  the default seed here is 100 too, but the split is stratified per class, so the order differs).
* ``resize=N`` scales the shorter side to N and the longer one to ``long * N // short`` (im2rec's
  arithmetic; upscaling included). Images are decoded as 3-channel colour (im2rec ``--color 1``),
  EXIF orientation applied (as OpenCV's ``imread`` does), optionally centre-cropped to a square
  (``--center-crop``) and re-encoded as JPEG at ``quality`` (im2rec default 95). ``pass_through``
  packs the original bytes after checking they decode (``--pass-through``).
* Unreadable images: im2rec prints the file and leaves it out of the ``.rec`` (its ``.lst``
  still lists it); here it is left out of both and reported in ``result.skipped``, or it stops
  the run with ``on_error="fail"``.

Pillow does the decoding, resizing (bilinear; OpenCV's default is also bilinear, so pixel
values differ slightly but sizes are identical) and encoding; images are processed in a small
thread pool (Pillow releases the GIL while decoding, resizing and encoding) in bounded batches.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sagedrop.recordio import IRHeader, write_image_rec

from . import Staging, check_ratio, problem
from .image_listing import IMAGE_EXTENSIONS, ImageEntry, list_images, split_entries

__all__ = [
    "DEFAULT_QUALITY",
    "DEFAULT_SEED",
    "IMAGE_EXTENSIONS",
    "ImageEntry",
    "ImagesResult",
    "SkippedImage",
    "format_lst_line",
    "list_images",
    "prepare_images",
    "resized_size",
]

DEFAULT_QUALITY = 95
"""im2rec's default ``--quality``."""
DEFAULT_SEED = 100
"""im2rec shuffles with ``random.seed(100)``."""
CLASSES_FILE = "classes.json"

Layout = Literal["recordio", "raw"]
Progress = Callable[[str, int, int | None], None]
"""``progress(phase, advance, total)``: ``advance`` more units done of ``total`` (images here)."""


@dataclass(frozen=True)
class SkippedImage:
    path: str  # relative to the image root
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class ImagesResult:
    """What ``prepare_images`` wrote. ``manifest_fields()`` gives what training.json needs."""

    layout: Layout
    out_dir: Path
    classes: list[str]
    num_training_samples: int
    num_validation_samples: int
    train_per_class: list[int]
    validation_per_class: list[int]
    paths: dict[str, Path]
    skipped: list[SkippedImage] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bytes_written: int = 0
    seconds: float = 0.0
    resize: int | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def manifest_fields(self) -> dict[str, Any]:
        """``labels`` and the required hyperparameters (plus ``resize`` for raw images when known)."""
        hyperparameters: dict[str, Any] = {
            "num_classes": self.num_classes,
            "num_training_samples": self.num_training_samples,
        }
        if self.layout == "raw" and self.resize:
            hyperparameters["resize"] = self.resize
            if self.resize <= 224:
                # IC-Hyperparameter.html: resize "should be larger than both the width and height
                # components of image_shape" (default 3,224,224), so a smaller resize needs a smaller crop.
                side = self.resize - 1
                hyperparameters["image_shape"] = f"3,{side},{side}"
        return {"labels": list(self.classes), "hyperparameters": hyperparameters}

    def summary(self) -> str:
        lines = [
            f"{self.num_classes} classes, {self.num_training_samples} training and "
            f"{self.num_validation_samples} validation images ({self.layout} layout) in {self.out_dir}",
        ]
        width = max((len(name) for name in self.classes), default=0)
        for name, train, val in zip(self.classes, self.train_per_class, self.validation_per_class, strict=True):
            lines.append(f"  {name:<{width}}  train {train:>7}  validation {val:>7}")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} unreadable image(s):")
            lines.extend(f"  {item}" for item in self.skipped[:20])
            if len(self.skipped) > 20:
                lines.append(f"  ... and {len(self.skipped) - 20} more")
        if self.ignored_files:
            lines.append(f"ignored {len(self.ignored_files)} file(s) that are not class images")
        lines.extend(f"warning: {text}" for text in self.warnings)
        lines.append(f"{self.bytes_written / 1e6:.1f} MB written in {self.seconds:.1f} s")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Image processing
# --------------------------------------------------------------------------------------------


def resized_size(width: int, height: int, shorter: int) -> tuple[int, int]:
    """im2rec's ``--resize``: the shorter side becomes ``shorter``, the other ``long * shorter // short``."""
    if height > width:
        return shorter, height * shorter // width
    return width * shorter // height, shorter


def format_lst_line(index: int, label: float, relpath: str) -> str:
    """One im2rec ``.lst`` line (MXNet 1.x ``write_list``): ``%d\\t%f\\t%s\\n``."""
    return f"{index:d}\t{float(label):f}\t{relpath}\n"


@dataclass(frozen=True)
class _Options:
    resize: int | None
    quality: int
    center_crop: bool
    pass_through: bool
    reencode_raw: bool


@dataclass
class _Encoded:
    entry: ImageEntry
    data: bytes | None = None  # encoded image (None: copy the file as is, raw layout)
    extension: str | None = None  # file extension of data, raw layout
    error: str | None = None


def _process(entry: ImageEntry, root: Path, options: _Options, raw: bool) -> _Encoded:
    """Decode, check and (unless passed through) transform and re-encode one image."""
    from PIL import Image, ImageOps

    path = root / entry.relpath
    try:
        with Image.open(path) as image:
            source_format = image.format
            image.load()  # a truncated or corrupt file fails here, not later in the algorithm
            if options.pass_through or (raw and not options.reencode_raw and source_format in ("JPEG", "PNG")):
                if source_format not in ("JPEG", "PNG"):
                    return _Encoded(entry, error=f"is {source_format}, pass-through needs JPEG or PNG")
                data = None if raw else path.read_bytes()
                return _Encoded(entry, data=data, extension=None)
            converted = ImageOps.exif_transpose(image).convert("RGB")
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, DecompressionBombError...
        return _Encoded(entry, error=_describe(exc))
    if options.center_crop:
        width, height = converted.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        converted = converted.crop((left, top, left + side, top + side))
    if options.resize:
        size = resized_size(*converted.size, options.resize)
        if size != converted.size:
            converted = converted.resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    converted.save(buffer, format="JPEG", quality=options.quality)
    return _Encoded(entry, data=buffer.getvalue(), extension=".jpg")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "cannot identify image file" in text:
        return "is not an image Pillow can read (unknown format or not an image)"
    return f"cannot be decoded: {text}"


def _ordered_map(fn: Callable[[ImageEntry], _Encoded], items: Iterable[ImageEntry], workers: int) -> Iterator[_Encoded]:
    """``map(fn, items)`` on a thread pool, results in order, at most ``2 * workers`` in flight."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sagedrop-images") as pool:
        iterator = iter(items)
        pending: deque[Future[_Encoded]] = deque()
        for item in iterator:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                break
        try:
            while pending:
                done = pending.popleft().result()
                following = next(iterator, None)
                if following is not None:
                    pending.append(pool.submit(fn, following))
                yield done
        finally:
            for future in pending:
                future.cancel()


# --------------------------------------------------------------------------------------------
# The tool
# --------------------------------------------------------------------------------------------


def prepare_images(
    root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    layout: Layout = "recordio",
    resize: int | None = None,
    quality: int = DEFAULT_QUALITY,
    center_crop: bool = False,
    pass_through: bool = False,
    validation_ratio: float = 0.2,
    seed: int = DEFAULT_SEED,
    write_idx: bool = True,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    on_error: Literal["skip", "fail"] = "skip",
    workers: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ImagesResult:
    """Turn ``root/<class>/<images>`` into image-classification channels in ``out_dir``.

    ``layout``: ``"recordio"`` (MXNet ``.rec`` per channel) or ``"raw"`` (image files plus
    ``train_lst``/``validation_lst``). ``resize``: shorter side in pixels (im2rec ``--resize``).
    ``quality``: JPEG quality 1-100. ``validation_ratio``: share of each class for validation.
    ``pass_through``: keep the original JPEG/PNG bytes (no resize/crop/re-encode). In raw layout
    JPEG/PNG files are copied unchanged unless ``resize`` or ``center_crop`` is set; other formats
    (by content) become JPEG. ``on_error``: ``"skip"`` an unreadable image (listed in
    ``result.skipped``) or ``"fail"`` the run. Outputs appear only when the run succeeds;
    existing outputs are an error unless ``overwrite``.
    """
    started = time.monotonic()
    _check_options(layout, on_error, resize, quality, center_crop, pass_through)
    ratio = check_ratio(validation_ratio)
    root_path, out_path = Path(root).resolve(), Path(out_dir).resolve()
    if out_path == root_path or root_path in out_path.parents:
        raise problem(
            out_path,
            "the output folder is inside the image folder",
            "write the output outside the image folder, or it would be listed as a class",
        )
    classes, entries, ignored = list_images(root_path, extensions)
    train, validation = split_entries(entries, len(classes), ratio, seed)
    raw = layout == "raw"
    channels = ("train", "validation") if ratio > 0 else ("train",)
    run = _Run(
        root=root_path,
        out=out_path,
        options=_Options(resize, quality, center_crop, pass_through, reencode_raw=bool(resize or center_crop)),
        raw=raw,
        write_idx=write_idx,
        threads=max(1, workers if workers is not None else min(8, os.cpu_count() or 1)),
        on_error=on_error,
        progress=progress,
        total=len(train) + len(validation),
    )
    result = ImagesResult(
        layout=layout,
        out_dir=out_path,
        classes=classes,
        num_training_samples=0,
        num_validation_samples=0,
        train_per_class=[0] * len(classes),
        validation_per_class=[0] * len(classes),
        paths={},
        ignored_files=ignored,
        resize=resize,
    )
    with Staging(out_path, _output_names(channels, raw, write_idx), overwrite=overwrite) as stage:
        for channel, members in (("train", train), ("validation", validation)):
            if channel in channels:
                _write_channel(stage, channel, members, result, run)
        result.num_training_samples = sum(result.train_per_class)
        result.num_validation_samples = sum(result.validation_per_class)
        if result.num_training_samples == 0:
            raise problem(root_path, "no readable training images", "see the skipped images above and fix them")
        classes_text = json.dumps(classes, ensure_ascii=False, indent=2) + "\n"
        (stage / CLASSES_FILE).write_text(classes_text, encoding="utf-8")
        result.paths["classes"] = out_path / CLASSES_FILE
    for label, name in enumerate(classes):
        if result.train_per_class[label] == 0:
            result.warnings.append(f"class {name!r} has no training images left after skipping unreadable ones")
    if ratio == 0:
        result.warnings.append(
            "no validation split: image classification also needs a validation channel "
            "(set validation_ratio, or add validation/ yourself)"
        )
    result.seconds = time.monotonic() - started
    return result


def _check_options(
    layout: str, on_error: str, resize: int | None, quality: int, center_crop: bool, pass_through: bool
) -> None:
    if layout not in ("recordio", "raw"):
        raise problem("layout", f"unknown layout {layout!r}", 'use "recordio" (.rec files) or "raw" (image files)')
    if on_error not in ("skip", "fail"):
        raise problem("on_error", f"unknown value {on_error!r}", 'use "skip" or "fail"')
    if resize is not None and (not isinstance(resize, int) or resize < 1):
        raise problem("resize", f"must be a positive number of pixels, got {resize!r}", "e.g. 256, or leave it unset")
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        raise problem("quality", f"JPEG quality must be 1-100, got {quality!r}", "im2rec uses 95")
    if pass_through and (resize or center_crop):
        raise problem(
            "pass_through",
            "cannot keep the original bytes and resize or crop them",
            "drop pass_through, or resize/center_crop",
        )


def _output_names(channels: tuple[str, ...], raw: bool, write_idx: bool) -> list[str]:
    """What the run writes in the output folder (Staging moves exactly these into place)."""
    names: list[str] = [*channels, CLASSES_FILE]
    if raw:
        names += [f"{name}_lst" for name in channels]
    else:
        names += [f"{name}.lst" for name in channels]
        if write_idx:
            names += [f"{name}.idx" for name in channels]
    return names


@dataclass(frozen=True)
class _Run:
    """One run's settings, shared by its channels."""

    root: Path
    out: Path
    options: _Options
    raw: bool
    write_idx: bool
    threads: int
    on_error: str
    progress: Progress | None
    total: int


def _write_channel(stage: Path, channel: str, members: list[ImageEntry], result: ImagesResult, run: _Run) -> None:
    """Encode one channel's images (on ``run.threads`` threads) and write them in the run's layout."""
    counts = result.train_per_class if channel == "train" else result.validation_per_class
    encoded = _ordered_map(lambda entry: _process(entry, run.root, run.options, run.raw), members, run.threads)
    checked = _checked(encoded, result, run.on_error, run.root, run.progress, run.total)
    if run.raw:
        written = _write_raw(stage, channel, checked, counts, run.root)
        result.paths[channel] = run.out / channel
        result.paths[f"{channel}_lst"] = run.out / f"{channel}_lst" / f"{channel}.lst"
    else:
        written = _write_recordio(stage, channel, checked, counts, run.write_idx)
        result.paths[channel] = run.out / channel / f"{channel}.rec"
        result.paths[f"{channel}.lst"] = run.out / f"{channel}.lst"
        if run.write_idx:
            result.paths[f"{channel}.idx"] = run.out / f"{channel}.idx"
    result.bytes_written += written


def _checked(
    encoded: Iterator[_Encoded],
    result: ImagesResult,
    on_error: str,
    root: Path,
    progress: Progress | None,
    total: int,
) -> Iterator[_Encoded]:
    for item in encoded:
        if progress is not None:
            progress("images", 1, total)
        if item.error is None:
            yield item
            continue
        if on_error == "fail":
            raise problem(
                root / item.entry.relpath,
                item.error,
                "fix or remove the file, or skip unreadable images (on_error='skip', --skip-bad-images)",
            )
        result.skipped.append(SkippedImage(item.entry.relpath, item.error))


def _write_recordio(stage: Path, channel: str, items: Iterator[_Encoded], counts: list[int], write_idx: bool) -> int:
    (stage / channel).mkdir()
    with ExitStack() as files:
        rec = files.enter_context(open(stage / channel / f"{channel}.rec", "wb"))
        lst = files.enter_context(open(stage / f"{channel}.lst", "w", encoding="utf-8", newline="\n"))
        idx = (
            files.enter_context(open(stage / f"{channel}.idx", "w", encoding="utf-8", newline="\n"))
            if write_idx
            else None
        )

        def records() -> Iterator[tuple[IRHeader, bytes]]:
            for item in items:
                entry = item.entry
                line = format_lst_line(entry.index, entry.label, entry.relpath)
                assert item.data is not None
                yield IRHeader(0, float(entry.label), entry.index, 0), item.data
                lst.write(line)
                counts[entry.label] += 1

        stats = write_image_rec(rec, records(), index_dst=idx)
    return stats.bytes_written


def _write_raw(stage: Path, channel: str, items: Iterator[_Encoded], counts: list[int], root: Path) -> int:
    base = stage / channel
    base.mkdir()
    (stage / f"{channel}_lst").mkdir()
    written = 0
    used: set[str] = set()
    with open(stage / f"{channel}_lst" / f"{channel}.lst", "w", encoding="utf-8", newline="\n") as lst:
        for item in items:
            entry = item.entry
            relpath = entry.relpath
            if item.extension is not None and Path(relpath).suffix.lower() not in (".jpg", ".jpeg"):
                relpath += item.extension  # re-encoded as JPEG: photo.png -> photo.png.jpg
            if relpath in used:
                raise problem(
                    root / entry.relpath,
                    f"its output name {relpath} is taken by another image",
                    "rename one of the two files",
                )
            used.add(relpath)
            target = base / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            if item.data is None:
                shutil.copyfile(root / entry.relpath, target)
                written += target.stat().st_size
            else:
                target.write_bytes(item.data)
                written += len(item.data)
            line = format_lst_line(entry.index, entry.label, relpath)
            lst.write(line)
            written += len(line.encode())
            counts[entry.label] += 1
    return written
