"""Image classification data: MXNet .rec channels, image files with .lst lists, decoding and augmentation.

Formats (https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html, "Input/Output
Interface"): RecordIO (``application/x-recordio``: MXNet ``.rec`` files whose records are an IRHeader
plus an encoded image, read with the layer's ``sagedrop.recordio.iter_image_rec``), or image files in
``train``/``validation`` listed by one ``.lst`` file in ``train_lst``/``validation_lst`` (tab-separated
index, label(s), path relative to the image channel). Multi-label records carry a label vector: in a
``.rec`` the IRHeader's float list (flag = count), in a ``.lst`` several label columns; multi-hot by
default, class ids with ``label-format=class-id`` in the content type (same page, augmented manifest).

Images are decoded with Pillow (as RGB, or grayscale for one channel), resized so that the shorter side
is ``resize`` pixels when set (im2rec's rule, ``sagedrop_client.prepare.images.resized_size``), then cropped
to the network's height and width: the centre for evaluation, a random window for the ``crop``
augmentations. Augmentations as the IC-Hyperparameter page describes them
(https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html, ``augmentation_type``):
``crop`` = random crop + horizontal flip; ``crop_color`` adds random offsets in [-36, 36], [-50, 50],
[-50, 50] to hue, saturation and lightness (OpenCV's 8-bit HLS scale, which MXNet's augmenter uses:
hue 0-180, the others 0-255); ``crop_color_transform`` adds a random rotation up to 10 degrees, shear
up to 0.1 and aspect-ratio change up to 0.25.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagedrop.recordio import RecordIOError, iter_image_rec
from sagedrop_client.prepare.images import resized_size
from sagedrop_local.algorithms.common import channel_files, client_error, relative_name

SKIPPED_SUFFIXES = (".idx", ".lst")  # im2rec's companions of a .rec, harmless in a channel


@dataclass
class Dataset:
    """Decoded images (uint8 HxWxC, at least the network's size) and their targets."""

    images: list[np.ndarray]
    labels: np.ndarray  # (n,) class index, or (n, num_classes) multi-hot for multi_label
    where: list[str]  # "train/train.rec record 3" for messages


@dataclass(frozen=True)
class Spec:
    channels: int
    height: int
    width: int
    num_classes: int
    multi_label: bool
    resize: int | None


def decode_image(data: bytes, spec: Spec, where: str) -> np.ndarray:
    """Encoded JPEG/PNG (anything Pillow reads) -> uint8 HxWxC after ``resize``; AlgorithmError if unreadable."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            converted = image.convert("RGB" if spec.channels == 3 else "L")
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError...
        raise client_error(
            f"{where}: the image cannot be decoded ({str(exc) or type(exc).__name__}); records must hold JPEG or "
            "PNG images (RecordIO-protobuf is not MXNet image RecordIO: pack images with sagedrop prepare images "
            "or im2rec)"
        ) from None
    if spec.resize:
        size = resized_size(*converted.size, spec.resize)
        if size != converted.size:
            converted = converted.resize(size, Image.Resampling.BILINEAR)
    array = np.asarray(converted, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    height, width = array.shape[:2]
    if height < spec.height or width < spec.width:
        hint = f"set the resize hyperparameter to at least {max(spec.height, spec.width)}" if not spec.resize else ""
        raise client_error(
            f"{where}: the image is {width}x{height} pixels, smaller than image_shape's {spec.width}x{spec.height}"
            f"{' after resize=' + str(spec.resize) if spec.resize else ''}: {hint or 'raise resize'} or pack "
            "larger images"
        )
    return array


def parse_labels(values: list[float], spec: Spec, where: str, class_ids: bool) -> np.ndarray | int:
    """A record's label(s) as a class index or, for multi_label, a multi-hot float vector."""
    if not spec.multi_label:
        if len(values) != 1:
            raise client_error(
                f"{where} carries {len(values)} labels: a label vector needs multi_label=1 (or one label per image)"
            )
        label = values[0]
        if not float(label).is_integer() or not 0 <= label < spec.num_classes:
            raise client_error(
                f"{where}: label {label:g} is not a class index from 0 to {spec.num_classes - 1} (num_classes="
                f"{spec.num_classes})"
            )
        return int(label)
    vector = np.zeros(spec.num_classes, dtype=np.float32)
    if class_ids:
        for value in values:
            if not float(value).is_integer() or not 0 <= value < spec.num_classes:
                raise client_error(f"{where}: class id {value:g} is outside 0..{spec.num_classes - 1}")
            vector[int(value)] = 1.0
        return vector
    if len(values) != spec.num_classes or any(v not in (0.0, 1.0) for v in values):
        raise client_error(
            f"{where}: a multi-hot label needs {spec.num_classes} values of 0 or 1 (num_classes), got "
            f"{len(values)} value(s); for class ids use the content type 'application/x-recordio; "
            "label-format=class-id'"
        )
    vector[:] = values
    return vector


def _finish(images: list[np.ndarray], labels: list[np.ndarray | int], where: list[str], spec: Spec) -> Dataset:
    if spec.multi_label:
        stacked = np.stack(labels).astype(np.float32) if labels else np.zeros((0, spec.num_classes), np.float32)
    else:
        stacked = np.asarray(labels, dtype=np.int64)
    return Dataset(images, stacked, where)


def read_recordio(root: Path, channel: str, spec: Spec, class_ids: bool) -> Dataset:
    """Every RecordIO file of a channel (``.idx``/``.lst`` companions skipped)."""
    images: list[np.ndarray] = []
    labels: list[np.ndarray | int] = []
    where: list[str] = []
    for path in channel_files(root):
        if path.suffix.lower() in SKIPPED_SUFFIXES:
            continue
        name = relative_name(path, channel, root)
        try:
            for index, (header, data) in enumerate(iter_image_rec(path)):
                here = f"{name} record {index}"
                values = list(header.label) if isinstance(header.label, tuple) else [float(header.label)]
                labels.append(parse_labels(values, spec, here, class_ids))
                images.append(decode_image(data, spec, here))
                where.append(here)
        except RecordIOError as exc:
            raise client_error(
                f"{name} holds no MXNet image records ({exc}): the {channel} channel takes .rec files of images "
                "(application/x-recordio) as sagedrop prepare images or im2rec write them; RecordIO-protobuf "
                "(application/x-recordio-protobuf) is another format"
            ) from None
    return _finish(images, labels, where, spec)


def _lst_lines(root: Path, channel: str) -> Iterator[tuple[str, int, list[str]]]:
    files = [p for p in channel_files(root) if p.suffix.lower() == ".lst"]
    if not files:
        raise client_error(f"the {channel} channel holds no .lst file (index<TAB>label<TAB>relative image path)")
    for path in files:
        name = relative_name(path, channel, root)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise client_error(f"{name} is not UTF-8 text: a .lst file lists images as text lines") from None
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield name, number, line.split("\t")


def read_listed_images(images_root: Path, lst_root: Path, channel: str, spec: Spec, class_ids: bool) -> Dataset:
    """Images of ``channel`` in the order of the ``<channel>_lst`` channel's .lst lines."""
    images: list[np.ndarray] = []
    labels: list[np.ndarray | int] = []
    where: list[str] = []
    base = images_root.resolve()
    for name, number, columns in _lst_lines(lst_root, f"{channel}_lst"):
        here = f"{name} line {number}"
        if len(columns) < 3:
            raise client_error(f"{here} is not '<index>\\t<label(s)>\\t<relative path>' (tab-separated)")
        try:
            values = [float(v) for v in columns[1:-1]]
        except ValueError:
            raise client_error(f"{here}: the label columns {columns[1:-1]!r} are not numbers") from None
        target = (images_root / columns[-1].strip()).resolve()
        if base not in target.parents or not target.is_file():
            raise client_error(f"{here}: image {columns[-1].strip()!r} is not in the {channel} channel")
        labels.append(parse_labels(values, spec, here, class_ids))
        images.append(decode_image(target.read_bytes(), spec, f"{channel}/{columns[-1].strip()}"))
        where.append(here)
    return _finish(images, labels, where, spec)


# --------------------------------------------------------------------------------------------
# Crops and augmentations
# --------------------------------------------------------------------------------------------


def center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    top = (image.shape[0] - height) // 2
    left = (image.shape[1] - width) // 2
    return image[top : top + height, left : left + width]


def stack_centered(images: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """NCHW uint8 batch of centre crops."""
    return np.stack([center_crop(i, height, width) for i in images]).transpose(0, 3, 1, 2)


def _rgb_to_hls(rgb: np.ndarray) -> np.ndarray:
    """float RGB in [0, 1] -> H in degrees [0, 360), L and S in [0, 1] (the HLS model OpenCV uses)."""
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    light = (high + low) / 2
    delta = high - low
    denominator = np.where(light < 0.5, high + low, 2.0 - high - low)
    sat = np.divide(delta, denominator, out=np.zeros_like(delta), where=delta > 0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.where(delta > 0, delta, 1.0)
    hue = np.where(high == r, (g - b) / safe, np.where(high == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    hue = np.where(delta > 0, (hue * 60.0) % 360.0, 0.0)
    return np.stack([hue, light, sat], axis=-1)


def _hls_to_rgb(hls: np.ndarray) -> np.ndarray:
    hue, light, sat = hls[..., 0] / 360.0, hls[..., 1], hls[..., 2]
    q = np.where(light < 0.5, light * (1 + sat), light + sat - light * sat)
    p = 2 * light - q

    def channel(t: np.ndarray) -> np.ndarray:
        t = t % 1.0
        return np.where(
            t < 1 / 6, p + (q - p) * 6 * t, np.where(t < 0.5, q, np.where(t < 2 / 3, p + (q - p) * (2 / 3 - t) * 6, p))
        )

    return np.stack([channel(hue + 1 / 3), channel(hue), channel(hue - 1 / 3)], axis=-1)


def jitter_hls(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``crop_color``: hue += U[-36, 36] (x2 degrees), saturation and lightness += U[-50, 50] (of 255)."""
    if image.shape[2] != 3:
        light = image.astype(np.float32) + rng.uniform(-50, 50)
        return np.clip(light, 0, 255).astype(np.uint8)
    hls = _rgb_to_hls(image.astype(np.float32) / 255.0)
    hls[..., 0] = (hls[..., 0] + 2.0 * rng.uniform(-36, 36)) % 360.0
    hls[..., 1] = np.clip(hls[..., 1] + rng.uniform(-50, 50) / 255.0, 0, 1)
    hls[..., 2] = np.clip(hls[..., 2] + rng.uniform(-50, 50) / 255.0, 0, 1)
    return np.clip(_hls_to_rgb(hls) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def random_affine(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``crop_color_transform``: rotation <= 10 degrees, shear <= 0.1, aspect-ratio change <= 0.25, about the centre."""
    from PIL import Image

    angle = math.radians(rng.uniform(-10, 10))
    shear = rng.uniform(-0.1, 0.1)
    aspect = 1.0 + rng.uniform(-0.25, 0.25)
    sx, sy = math.sqrt(aspect), 1.0 / math.sqrt(aspect)
    cos, sin = math.cos(angle), math.sin(angle)
    # forward map: scale, shear, rotate; PIL wants the inverse (output -> input) as a 2x3 matrix
    forward = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])
    inverse = np.linalg.inv(forward)
    height, width = image.shape[:2]
    cx, cy = width / 2.0, height / 2.0
    offset = np.array([cx, cy]) - inverse @ np.array([cx, cy])
    matrix = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    squeezed = image[:, :, 0] if image.shape[2] == 1 else image
    out = Image.fromarray(squeezed).transform(
        (width, height), Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR
    )
    array = np.asarray(out, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def augmented_batch(
    images: list[np.ndarray], height: int, width: int, kind: str | None, rng: np.random.Generator
) -> np.ndarray:
    """NCHW uint8 training batch: centre crops without augmentation, else the documented random ones."""
    if kind is None:
        return stack_centered(images, height, width)
    out = []
    for image in images:
        if kind == "crop_color_transform":
            image = random_affine(image, rng)
        top = int(rng.integers(0, image.shape[0] - height + 1))
        left = int(rng.integers(0, image.shape[1] - width + 1))
        crop = image[top : top + height, left : left + width]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if kind in ("crop_color", "crop_color_transform"):
            crop = jitter_hls(np.ascontiguousarray(crop), rng)
        out.append(crop)
    return np.stack(out).transpose(0, 3, 1, 2)


def require_images(data: Dataset, channel: str) -> None:
    if not data.images:
        raise client_error(f"the {channel} channel holds no images")
