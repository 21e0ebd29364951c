"""sagedrop_client.prepare.images: class folders -> im2rec-compatible .rec/.lst/.idx, or the raw-image layout."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from sagedrop.recordio import MAGIC_BYTES, iter_image_rec
from sagedrop_client.prepare import PrepareError
from sagedrop_client.prepare.images import format_lst_line, prepare_images, resized_size

COLOURS = {"cat": (220, 30, 30), "dog": (30, 200, 30), "zebra": (30, 30, 220)}
SIZES = [(40, 30), (30, 50), (64, 64), (45, 20), (21, 33)]  # landscape, portrait, square


def make_tree(root: Path) -> dict[str, list[str]]:
    """Three classes of five images each (JPEG and PNG, RGB, RGBA and grayscale) plus noise files."""
    files: dict[str, list[str]] = {}
    for name, colour in COLOURS.items():
        folder = root / name
        folder.mkdir(parents=True)
        files[name] = []
        for number, size in enumerate(SIZES):
            if number == 1:
                image, suffix, fmt = Image.new("RGBA", size, (*colour, 255)), ".png", "PNG"
            else:
                image, suffix, fmt = Image.new("RGB", size, colour), ".jpg", "JPEG"
            path = folder / f"img{number}{suffix}"
            image.save(path, fmt)
            files[name].append(path.relative_to(root).as_posix())
        (folder / "notes.txt").write_text("not an image")
        (folder / ".DS_Store").write_bytes(b"\0\1")
    (root / "README.md").write_text("root file")
    return files


def mean_colour(data: bytes) -> tuple[int, int, int]:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    red, green, blue = (round(value) for value in ImageStat.Stat(image).mean)
    return red, green, blue


def nearest_class(colour: tuple[int, int, int]) -> int:
    names = list(COLOURS)
    distances = [sum((a - b) ** 2 for a, b in zip(colour, COLOURS[name], strict=True)) for name in names]
    return distances.index(min(distances))


def test_resize_arithmetic_is_im2rec():
    assert resized_size(40, 30, 20) == (26, 20)  # landscape: width * 20 // 30
    assert resized_size(30, 50, 20) == (20, 33)  # portrait: height * 20 // 30
    assert resized_size(64, 64, 20) == (20, 20)
    assert resized_size(10, 8, 16) == (20, 16)  # upscaling too, as im2rec


def test_lst_line_format():
    assert format_lst_line(3, 1, "dog/a.jpg") == "3\t1.000000\tdog/a.jpg\n"
    assert format_lst_line(0, 0.0, "cat/x y.png") == "0\t0.000000\tcat/x y.png\n"


def test_recordio_layout_round_trip(tmp_path):
    root, out = tmp_path / "images", tmp_path / "model"
    files = make_tree(root)
    result = prepare_images(root, out, resize=20, quality=90, validation_ratio=0.4, workers=2)

    assert result.classes == ["cat", "dog", "zebra"]
    assert result.num_classes == 3
    assert result.train_per_class == [3, 3, 3] and result.validation_per_class == [2, 2, 2]
    assert result.num_training_samples == 9 and result.num_validation_samples == 6
    assert result.skipped == []
    assert "README.md" in result.ignored_files and "cat/notes.txt" in result.ignored_files
    assert not any(".DS_Store" in name for name in result.ignored_files)
    assert json.loads((out / "classes.json").read_text()) == ["cat", "dog", "zebra"]
    assert result.manifest_fields() == {
        "labels": ["cat", "dog", "zebra"],
        "hyperparameters": {"num_classes": 3, "num_training_samples": 9},
    }
    assert sorted(p.name for p in out.iterdir()) == [
        "classes.json",
        "train",
        "train.idx",
        "train.lst",
        "validation",
        "validation.idx",
        "validation.lst",
    ]
    # index = position in the sorted listing: cat img0..img4 are 0-4, dog 5-9, zebra 10-14
    listing = [path for name in COLOURS for path in sorted(files[name])]
    seen: set[int] = set()
    for channel, count in (("train", 9), ("validation", 6)):
        rec = out / channel / f"{channel}.rec"
        assert list((out / channel).iterdir()) == [rec]
        records = list(iter_image_rec(rec))
        lst = (out / f"{channel}.lst").read_text().splitlines()
        assert len(records) == len(lst) == count
        for (header, image), line in zip(records, lst, strict=True):
            assert header.flag == 0 and header.id2 == 0
            assert header.label == float(header.id // 5)
            index, label, relpath = line.split("\t")
            assert int(index) == header.id and label == f"{header.label:f}"
            assert relpath == listing[header.id]
            assert image[:2] == b"\xff\xd8"  # re-encoded as JPEG
            decoded = Image.open(io.BytesIO(image))
            assert decoded.format == "JPEG" and decoded.mode == "RGB"
            source = Image.open(root / relpath)
            assert decoded.size == resized_size(*source.size, 20)
            assert nearest_class(mean_colour(image)) == int(header.label)
            seen.add(header.id)
        # .idx: "id<TAB>byte offset" of each record, in file order
        data = rec.read_bytes()
        idx = [line.split("\t") for line in (out / f"{channel}.idx").read_text().splitlines()]
        assert [int(key) for key, _ in idx] == [header.id for header, _ in records]
        for _, offset in idx:
            assert data[int(offset) : int(offset) + 4] == MAGIC_BYTES
        assert struct.unpack_from("<I", data, 4)[0] & ((1 << 29) - 1) > 24
    assert seen == set(range(15))


def test_same_seed_same_bytes_other_seed_other_split(tmp_path):
    root = tmp_path / "images"
    make_tree(root)
    first = prepare_images(root, tmp_path / "a", validation_ratio=0.4, seed=7, workers=1)
    second = prepare_images(root, tmp_path / "b", validation_ratio=0.4, seed=7, workers=3)
    third = prepare_images(root, tmp_path / "c", validation_ratio=0.4, seed=8)
    assert first.num_training_samples == second.num_training_samples == 9
    assert (tmp_path / "a/train/train.rec").read_bytes() == (tmp_path / "b/train/train.rec").read_bytes()
    assert (tmp_path / "a/train.lst").read_text() == (tmp_path / "b/train.lst").read_text()
    assert (tmp_path / "a/train.lst").read_text() != (tmp_path / "c/train.lst").read_text()
    assert third.train_per_class == [3, 3, 3]


def test_no_resize_keeps_size_and_quality_changes_bytes(tmp_path):
    root = tmp_path / "images"
    make_tree(root)
    low = prepare_images(root, tmp_path / "low", quality=10, validation_ratio=0)
    high = prepare_images(root, tmp_path / "high", quality=100, validation_ratio=0)
    assert low.num_training_samples == high.num_training_samples == 15
    assert low.num_validation_samples == 0 and not (tmp_path / "low/validation").exists()
    assert any("validation" in warning for warning in low.warnings)
    for header, image in iter_image_rec(tmp_path / "low/train/train.rec"):
        relpath = (tmp_path / "low/train.lst").read_text().splitlines()
        assert Image.open(io.BytesIO(image)).size in SIZES
        assert header.id in range(15) and len(relpath) == 15
    assert (tmp_path / "low/train/train.rec").stat().st_size < (tmp_path / "high/train/train.rec").stat().st_size


def test_pass_through_packs_original_bytes(tmp_path):
    root = tmp_path / "images"
    make_tree(root)
    prepare_images(root, tmp_path / "out", pass_through=True, validation_ratio=0, write_idx=False)
    lines = (tmp_path / "out/train.lst").read_text().splitlines()
    assert not (tmp_path / "out/train.idx").exists()
    for (_, image), line in zip(iter_image_rec(tmp_path / "out/train/train.rec"), lines, strict=True):
        assert image == (root / line.split("\t")[2]).read_bytes()


def test_center_crop_makes_squares(tmp_path):
    root = tmp_path / "images"
    make_tree(root)
    prepare_images(root, tmp_path / "out", center_crop=True, resize=16, validation_ratio=0)
    sizes = {Image.open(io.BytesIO(image)).size for _, image in iter_image_rec(tmp_path / "out/train/train.rec")}
    assert sizes == {(16, 16)}


def test_unreadable_images_are_skipped_and_named(tmp_path):
    root = tmp_path / "images"
    make_tree(root)
    (root / "cat" / "broken.jpg").write_bytes(b"this is not a jpeg")
    good = io.BytesIO()
    Image.new("RGB", (200, 200), (1, 2, 3)).save(good, "JPEG")
    (root / "dog" / "truncated.jpg").write_bytes(good.getvalue()[:300])
    result = prepare_images(root, tmp_path / "out", validation_ratio=0)
    assert sorted(item.path for item in result.skipped) == ["cat/broken.jpg", "dog/truncated.jpg"]
    assert "not an image" in next(i for i in result.skipped if i.path == "cat/broken.jpg").reason
    assert "truncated" in next(i for i in result.skipped if i.path == "dog/truncated.jpg").reason.lower()
    assert result.num_training_samples == 15
    lst = (tmp_path / "out/train.lst").read_text()
    assert "broken" not in lst and "truncated" not in lst
    assert "cat/broken.jpg" in result.summary()


def test_unreadable_image_fails_when_asked_and_leaves_nothing(tmp_path):
    root, out = tmp_path / "images", tmp_path / "out"
    make_tree(root)
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(PrepareError) as caught:
        prepare_images(root, out, on_error="fail")
    assert "broken.png" in str(caught.value) and "skip" in str(caught.value)
    assert list(out.iterdir()) == []  # no half-written outputs, no staging folder


def test_raw_layout_copies_images_and_writes_lst_channels(tmp_path):
    root, out = tmp_path / "images", tmp_path / "out"
    make_tree(root)
    bmp = io.BytesIO()
    Image.new("RGB", (12, 10), COLOURS["dog"]).save(bmp, "BMP")
    (root / "dog" / "bitmap.jpg").write_bytes(bmp.getvalue())  # a BMP named .jpg: re-encoded to JPEG
    result = prepare_images(root, out, layout="raw", validation_ratio=0.4)
    assert sorted(p.name for p in out.iterdir()) == [
        "classes.json",
        "train",
        "train_lst",
        "validation",
        "validation_lst",
    ]
    assert result.train_per_class == [3, 4, 3] and result.validation_per_class == [2, 2, 2]
    total = 0
    for channel in ("train", "validation"):
        lines = (out / f"{channel}_lst" / f"{channel}.lst").read_text().splitlines()
        assert list((out / f"{channel}_lst").iterdir()) == [out / f"{channel}_lst" / f"{channel}.lst"]
        for line in lines:
            index, label, relpath = line.split("\t")
            copied = out / channel / relpath
            assert label == f"{['cat', 'dog', 'zebra'].index(relpath.split('/')[0]):f}"
            if relpath == "dog/bitmap.jpg":
                assert Image.open(copied).format == "JPEG"
            else:
                assert copied.read_bytes() == (root / relpath).read_bytes()
            assert int(index) >= 0
        total += len(lines)
        files = sorted(p.relative_to(out / channel).as_posix() for p in (out / channel).rglob("*") if p.is_file())
        assert files == sorted(line.split("\t")[2] for line in lines)
    assert total == 16
    assert result.paths["train_lst"] == out.resolve() / "train_lst" / "train.lst"


def test_raw_layout_with_resize_reencodes_png_as_jpeg(tmp_path):
    root, out = tmp_path / "images", tmp_path / "out"
    make_tree(root)
    result = prepare_images(root, out, layout="raw", resize=10, validation_ratio=0)
    lines = (out / "train_lst" / "train.lst").read_text().splitlines()
    png_lines = [line for line in lines if ".png" in line]
    assert len(png_lines) == 3 and all(line.endswith(".png.jpg") for line in png_lines)
    for line in lines:
        image = Image.open(out / "train" / line.split("\t")[2])
        assert image.format == "JPEG" and min(image.size) == 10
    assert result.manifest_fields()["hyperparameters"]["resize"] == 10


def test_existing_outputs_need_overwrite(tmp_path):
    root, out = tmp_path / "images", tmp_path / "out"
    make_tree(root)
    prepare_images(root, out, validation_ratio=0.4)
    (out / "training.json").write_text("{}")
    with pytest.raises(PrepareError, match="already holds train, validation"):
        prepare_images(root, out, validation_ratio=0.4)
    (out / "train" / "stale.rec").write_bytes(b"old")
    result = prepare_images(root, out, validation_ratio=0.2, overwrite=True)
    assert result.num_validation_samples == 3
    assert sorted(p.name for p in (out / "train").iterdir()) == ["train.rec"]
    assert (out / "training.json").read_text() == "{}"  # other files are left alone
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda root: (root / "only").mkdir(parents=True) or Image.new("RGB", (4, 4)).save(root / "only/a.jpg"),
            "at least 2 class sub-folders",
        ),
        (lambda root: make_tree(root) and (root / "empty").mkdir(), "without images: empty"),
        (lambda root: None, "does not exist"),
    ],
)
def test_bad_image_folders(tmp_path, setup, message):
    root = tmp_path / "images"
    setup(root)
    with pytest.raises(PrepareError, match=message):
        prepare_images(root, tmp_path / "out")


def test_tab_in_a_file_name_is_refused_before_any_work(tmp_path):
    root = tmp_path / "images"
    make_tree(root)
    Image.new("RGB", (4, 4)).save(root / "cat" / "bad\tname.jpg", "JPEG")
    with pytest.raises(PrepareError, match="tab or line break"):
        prepare_images(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_options(tmp_path):
    root = tmp_path / "images"
    make_tree(root)
    with pytest.raises(PrepareError, match="inside the image folder"):
        prepare_images(root, root / "out")
    with pytest.raises(PrepareError, match="quality"):
        prepare_images(root, tmp_path / "out", quality=0)
    with pytest.raises(PrepareError, match="validation_ratio"):
        prepare_images(root, tmp_path / "out", validation_ratio=1.0)
    with pytest.raises(PrepareError, match="pass_through"):
        prepare_images(root, tmp_path / "out", pass_through=True, resize=32)
    with pytest.raises(PrepareError, match="layout"):
        prepare_images(root, tmp_path / "out", layout="tfrecord")  # type: ignore[arg-type]


def test_progress_reports_every_image(tmp_path):
    root = tmp_path / "images"
    make_tree(root)
    calls: list[tuple[str, int, int | None]] = []
    prepare_images(root, tmp_path / "out", progress=lambda *args: calls.append(args))
    assert len(calls) == 15 and set(calls) == {("images", 1, 15)}


@pytest.mark.parametrize("layout", ["recordio", "raw"])
def test_output_passes_the_train_functions_checks(tmp_path, layout):
    from sagedrop_cli import submit

    root, out = tmp_path / "images", tmp_path / "model"
    make_tree(root)
    result = prepare_images(root, out, layout=layout, resize=24)
    manifest = {"algorithm": "image-classification", **result.manifest_fields()}
    (out / "training.json").write_text(json.dumps(manifest))
    checked = submit.check(out)
    assert checked.labels == ("cat", "dog", "zebra")
    if layout == "raw":  # resize must exceed image_shape's sides (IC-Hyperparameter.html)
        assert checked.wire_hyperparameters["image_shape"] == "3,23,23"
    uploaded = [key for _, key in submit.plan(out, "bucket", "").files]
    assert not any(key.endswith((".idx", "classes.json")) for key in uploaded)  # by-products stay local
    assert ("model/train_lst/train.lst" in uploaded) == (layout == "raw")
