"""Instance types: the syntax SageMaker takes, and which families carry an NVIDIA GPU."""

from __future__ import annotations

import re

_INSTANCE_RE = re.compile(r"ml\.[a-z][a-z0-9-]*\.(?:\d*xlarge|large|medium|small|metal(?:-\d+xl)?)")

# NVIDIA GPU families in SageMaker (training and hosting). Inferentia/Trainium (inf*, trn*)
# are accelerators but cannot run the CUDA builds of the built-in algorithms.
_GPU_FAMILIES = ("p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6", "g4dn", "g5", "g6", "g6e", "gr6")


def valid_instance_type(instance_type: str) -> bool:
    return bool(_INSTANCE_RE.fullmatch(instance_type))


def is_gpu_instance(instance_type: str) -> bool:
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else ""
    if family in _GPU_FAMILIES:
        return True
    # Newer NVIDIA families follow the same naming (p<N>, g<N>); g4ad is AMD, not CUDA.
    return family.startswith(("p", "g")) and family[1:2].isdigit() and family != "g4ad"
