"""The training-side checks every algorithm shares: hyperparameters, channels, labels, instances.

:class:`TrainingRules` is mixed into ``Algorithm``; it reads the facts the algorithm module declares
(``channels``, ``hyperparameters_for``, the GPU and distribution flags) and holds the hooks a module
overrides (``check_hyperparameters`` for combinations, ``check_channels`` for channel rules that depend on
hyperparameters, ...). Nothing here talks to AWS.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from sagedrop.algorithms.instances import is_gpu_instance, valid_instance_type
from sagedrop.errors import Problem


class TrainingRules:
    """Validation of a manifest against the algorithm's facts (mixed into ``Algorithm``)."""

    def resolve_hyperparameters(
        self, given: Mapping[str, Any], path: str = "$.hyperparameters", version: str | None = None
    ) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
        """Check names, types and ranges against ``version``'s declarations; apply safe defaults for
        required ones. ``version`` None checks against every version's (to read a recorded job).

        Returns the typed values, the strings SageMaker receives, and every problem found.
        """
        typed: dict[str, Any] = {}
        wire: dict[str, str] = {}
        problems: list[Problem] = []
        declared = self.hyperparameters_for(version)
        for key, value in given.items():
            spec = self.hyperparameter(key, version)
            if spec is None:
                problems.append(self.unknown_hyperparameter(key, f"{path}.{key}", version))
                continue
            try:
                typed[key], wire[key] = spec.type.convert(value)
            except ValueError as exc:
                hint = self.refused_value_hint(key, value, version)
                problems.append(Problem(f"{path}.{key}", f"expected {spec.type.expected}, {exc}", hint))
        for spec in declared:
            if spec.required and spec.name not in given:
                if spec.default is None:
                    problems.append(
                        Problem(
                            f"{path}.{spec.name}",
                            f"{self.name} requires {spec.name!r}",
                            f"add it: {spec.type.expected}",
                        )
                    )
                else:
                    typed[spec.name], wire[spec.name] = spec.type.convert(spec.default)
        if not problems:
            problems.extend(self.check_hyperparameters(typed, path))
        return typed, wire, problems

    def unknown_hyperparameter(self, key: str, path: str, version: str | None) -> Problem:
        """The problem for a name the version does not declare (a close match as the hint)."""
        known = [h.name for h in self.hyperparameters_for(version)]
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
        guide = f"see the {self.title} hyperparameters page of the SageMaker developer guide"
        hint = f"did you mean {close[0]!r}?" if close else guide
        return Problem(path, f"{self.name} has no hyperparameter {key!r}", hint)

    def refused_value_hint(self, key: str, value: Any, version: str | None) -> str:
        """Extra words for a refused value (e.g. which image version takes it). Override."""
        return ""

    def hyperparameter_warnings(self, values: Mapping[str, Any], path: str) -> list[Problem]:
        """Settings the documentation says the algorithm ignores: worth a warning, not a refusal."""
        return []

    def check_hyperparameters(self, values: dict[str, Any], path: str) -> list[Problem]:
        """Rules across hyperparameters (e.g. multiclass needs num_classes). Override."""
        return []

    def check_channels(self, channels: Mapping[str, str | None], values: Mapping[str, Any], path: str) -> list[Problem]:
        """Channel rules given the chosen channels (name -> content type) and hyperparameters.

        The default: every required channel present, every channel known, content types allowed.
        """
        problems = []
        for spec in self.channels:
            if spec.required and spec.name not in channels:
                problems.append(
                    Problem(
                        f"{path}.{spec.name}",
                        f"{self.name} needs a {spec.name!r} channel",
                        f"put the data under the {spec.name}/ folder next to the manifest",
                    )
                )
        for name, content_type in channels.items():
            spec = self.channel(name)
            if spec is None:
                problems.append(
                    Problem(
                        f"{path}.{name}",
                        f"{self.name} has no channel {name!r}",
                        f"its channels are {', '.join(self.channel_names)}",
                    )
                )
            elif content_type and spec.allowed_content_types and content_type not in spec.allowed_content_types:
                problems.append(
                    Problem(
                        f"{path}.{name}.content_type",
                        f"{content_type!r} is not a content type the {name!r} channel accepts",
                        f"use one of {', '.join(spec.allowed_content_types)}",
                    )
                )
        return problems

    def check_channel_modes(
        self, channels: Mapping[str, tuple[str | None, str, str]], values: Mapping[str, Any], path: str
    ) -> list[Problem]:
        """Rules on each channel's (content type, input mode, distribution) together. Override.

        The content type is None when it is not known yet (decided later from the file names).
        """
        return []

    def check_label(self, label: float, values: Mapping[str, Any]) -> str | None:
        """Why one label value (first CSV column / libsvm label) is wrong, or None. Override."""
        return None

    def check_text_lines(self, lines: list[str], values: Mapping[str, Any]) -> str | None:
        """Why the first lines of a text channel are wrong for this algorithm, or None. Override."""
        return None

    def expected_feature_count(self, values: Mapping[str, Any]) -> int | None:
        """How many feature columns (besides the label) the data must have, when known."""
        return None

    def reported_metrics(self, values: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The metric names a job with these hyperparameters reports, when that is known (None: unknown).

        Lets the manifest check refuse a gate on a metric the job will never report before
        anyone pays for training.
        """
        return None

    def class_count(self, values: Mapping[str, Any]) -> int | None:
        """How many classes the model predicts, when the hyperparameters say (for ``labels``)."""
        return None

    def check_training_instance(self, instance_type: str, values: Mapping[str, Any], path: str) -> list[Problem]:
        """Instance rules that depend on hyperparameters (e.g. a CPU-only mode). Override."""
        return []

    def check_instance_count(self, count: int, values: Mapping[str, Any], path: str) -> list[Problem]:
        """More than one training instance only where the algorithm trains distributed."""
        if count > 1 and not self.supports_distributed:
            return [Problem(path, f"{self.name} trains on one instance only, got {count}", "set instance_count to 1")]
        return []

    def instance_problems(self, instance_type: str, purpose: str, path: str) -> list[Problem]:
        """Syntax and GPU rules for a training or hosting instance type."""
        if not valid_instance_type(instance_type):
            return [Problem(path, f"{instance_type!r} is not a SageMaker instance type", "use e.g. ml.m5.xlarge")]
        gpu_only = self.gpu_only_training if purpose == "training" else self.gpu_only_hosting
        if gpu_only and not is_gpu_instance(instance_type):
            example = self.default_training_instance if purpose == "training" else self.default_hosting_instance
            return [
                Problem(
                    path,
                    f"{self.name} {purpose} needs a GPU instance, {instance_type} has none",
                    f"use a GPU instance such as {example}",
                )
            ]
        return []
