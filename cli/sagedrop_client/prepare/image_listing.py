"""Listing ``root/<class>/<images>`` and splitting it into train and validation, as im2rec lists and
shuffles (what ``prepare_images`` writes, and its sources, are in the ``images`` module's docstring).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import problem

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
"""im2rec's default ``--exts`` (MXNet 1.x); the only formats the algorithm reads in raw layout."""


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """One listed image: ``index`` (its id), ``label`` (class index) and its path relative to the root."""

    index: int
    label: int
    relpath: str  # posix, relative to the image root, starts with the class folder


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def list_images(
    root: Path, extensions: Sequence[str] = IMAGE_EXTENSIONS
) -> tuple[list[str], list[ImageEntry], list[str]]:
    """``(classes, entries, ignored)`` for ``root/<class>/...``, all sorted, indexes 0..n-1.

    Classes are the sorted names of the non-hidden sub-folders that hold at least one image.
    ``ignored`` lists files (relative paths) that are not images of a class: files in the root
    itself and files with other extensions. Hidden files and folders are skipped silently.
    """
    root = Path(root)
    if not root.is_dir():
        raise problem(
            root,
            "the image folder does not exist" if not root.exists() else "is not a folder",
            "give a folder with one sub-folder of images per class",
        )
    exts = {ext.lower() if ext.startswith(".") else f".{ext.lower()}" for ext in extensions}
    classes: list[str] = []
    entries: list[ImageEntry] = []
    ignored: list[str] = []
    empty: list[str] = []
    for child in sorted(root.iterdir(), key=lambda p: p.name):
        if child.name.startswith("."):
            continue
        if not child.is_dir():
            ignored.append(child.name)
            continue
        found: list[str] = []
        for path in child.rglob("*"):
            relative = path.relative_to(root)
            if _hidden(relative) or not path.is_file():
                continue
            if path.suffix.lower() in exts:
                if any(char in relative.as_posix() for char in "\t\r\n"):
                    raise problem(
                        path,
                        "the file name holds a tab or line break, which a .lst line cannot carry",
                        "rename the file",
                    )
                found.append(relative.as_posix())
            else:
                ignored.append(relative.as_posix())
        if not found:
            empty.append(child.name)
            continue
        label = len(classes)
        classes.append(child.name)
        for relpath in sorted(found):
            entries.append(ImageEntry(len(entries), label, relpath))
    if empty:
        raise problem(
            root,
            f"class folder(s) without images: {', '.join(empty)} (extensions {', '.join(sorted(exts))})",
            "add images to them or remove them: every class needs images",
        )
    if len(classes) < 2:
        found_text = f"found {len(classes)} ({', '.join(classes)})" if classes else "found none"
        raise problem(
            root,
            f"image classification needs at least 2 class sub-folders with images, {found_text}",
            "put each class's images in a sub-folder named after the class: root/cat/1.jpg, root/dog/2.jpg",
        )
    return classes, entries, sorted(ignored)


def split_entries(
    entries: Sequence[ImageEntry], num_classes: int, ratio: float, seed: int
) -> tuple[list[ImageEntry], list[ImageEntry]]:
    """Stratified seeded split, then both lists shuffled (im2rec shuffles its list too).

    Per class ``round(n * ratio)`` images go to validation; with a ratio above 0 a class of two or
    more images keeps at least one in each list.
    """
    rng = random.Random(seed)
    by_class: list[list[ImageEntry]] = [[] for _ in range(num_classes)]
    for entry in entries:
        by_class[entry.label].append(entry)
    train: list[ImageEntry] = []
    validation: list[ImageEntry] = []
    for members in by_class:
        members = list(members)
        rng.shuffle(members)
        count = round(len(members) * ratio)
        if ratio > 0 and len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        validation.extend(members[:count])
        train.extend(members[count:])
    rng.shuffle(train)
    rng.shuffle(validation)
    return train, validation
