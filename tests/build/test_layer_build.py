"""Build the Lambda layer with its Makefile (what `sam build` runs) and check what it ships.

Cold start is a feature: the layer carries the domain package and Powertools precompiled for
Python 3.12 with unchecked-hash .pyc files (SAM's zips reset file times to 1980, which would make
Python recompile every module at each cold start otherwise), and nothing local-only or heavy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "sagedrop"
MAX_LAYER_MB = 16


def find_python312() -> str | None:
    candidates = [shutil.which("python3.12")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(str(p) for p in pyenv_root.glob("versions/3.12*/bin/python3.12"))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def built_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python312 = find_python312()
    if python312 is None:
        pytest.skip("python3.12 is not installed: the layer build (like sam build) needs it")
    artifacts = tmp_path_factory.mktemp("layer")
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(LAYER),
            "build-DomainLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON312={python312}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return artifacts / "python"


def test_layer_ships_the_domain_package_and_powertools(built_layer: Path):
    assert (built_layer / "sagedrop" / "training.py").is_file()
    assert (built_layer / "sagedrop" / "algorithms" / "xgboost.py").is_file()
    assert (built_layer / "aws_lambda_powertools").is_dir()


def test_layer_leaves_out_what_the_runtime_has_and_what_is_local_only(built_layer: Path):
    names = {p.name for p in built_layer.iterdir()}
    for unwanted in ("boto3", "botocore", "s3transfer", "numpy", "moto", "sagedrop_local", "pydantic"):
        assert unwanted not in names, unwanted


def test_modules_are_precompiled_for_312_with_unchecked_hashes(built_layer: Path):
    sources = list((built_layer / "sagedrop").rglob("*.py"))
    assert sources
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        assert pyc.is_file(), pyc
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{pyc}: flags {flags:#b} (want hash-based, unchecked)"


def test_layer_stays_lean(built_layer: Path):
    size = sum(p.stat().st_size for p in built_layer.rglob("*") if p.is_file())
    assert size < MAX_LAYER_MB * 1024 * 1024, f"layer is {size / 1e6:.1f} MB"


def test_data_layer_carries_numpy_for_arm64(tmp_path: Path):
    python312 = find_python312()
    if python312 is None:
        pytest.skip("python3.12 is not installed")
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(ROOT / "layers" / "data"),
            "build-DataLayer",
            f"ARTIFACTS_DIR={tmp_path}",
            f"PYTHON312={python312}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    extensions = list((tmp_path / "python" / "numpy").rglob("*.so"))
    assert extensions and all("aarch64" in p.name for p in extensions if "cpython-312" in p.name)
    assert not (tmp_path / "python" / "numpy" / "tests").exists()
