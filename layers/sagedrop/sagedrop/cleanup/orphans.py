"""The orphan sweep: endpoint configs and models of this stack, older than the retention, that no endpoint
and no registry item uses, are deleted (listed with ``CreationTimeBefore``, ownership checked on their tags)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagedrop import tags
from sagedrop.aws_errors import is_not_found

from .listings import Hosting, describe_hosting, list_older_than, tagged_resources
from .report import OrphanDecision, Report
from .rules import DELETED, FAILED, HIBERNATED, KEPT, WOULD_DELETE, EndpointFacts

log = logging.getLogger("sagedrop.cleanup")

# Registry summary fields that name a job, endpoint config or SageMaker model (all named after the job).
REGISTRY_NAME_FIELDS = (
    "endpoint_config",
    "sagemaker_model",
    "serving_job",
    "pending_job",
    "deploying_job",
    "latest_job",
    "training_job",
)

Candidate = tuple[str, datetime, Mapping[str, str]]  # name, creation time, tags


class OrphanSweep:
    """One run's pass over old endpoint configs and models."""

    def __init__(self, *, sagemaker: Any, tagging: Any, stack: str, retention_days: int) -> None:
        self._sagemaker = sagemaker
        self._tagging = tagging
        self._stack = stack
        self._retention_days = retention_days

    def run(
        self,
        listed: Sequence[Mapping[str, Any]],
        endpoints: Sequence[EndpointFacts],
        records: Sequence[Mapping[str, Any]],
        now: datetime,
        dry: bool,
        report: Report,
        described: dict[str, Hosting | None],
    ) -> None:
        found = self._candidates(now)
        if found is None:
            return
        configs, models, owned = found
        in_registry = {
            value for record in records for key in REGISTRY_NAME_FIELDS if isinstance(value := record.get(key), str)
        }
        hibernated_now = {d.endpoint for d in report.decisions if d.action == HIBERNATED}
        existing = {summary["EndpointName"] for summary in listed} - hibernated_now
        # Endpoints that may use a candidate: this stack's endpoints of the same model (tag
        # sagedrop:model), and the endpoint the registry names for it. Only those are described,
        # and only when the model has a candidate (rare: after retrains, once per retention).
        candidate_models = {t.get(tags.MODEL) for name, _, t in configs + models if name not in in_registry} - {None}
        in_use = self._in_use(candidate_models, endpoints, records, existing, report, described)
        # A model whose same-named config (named after the same job) stays is kept with it.
        kept_configs = {arn.rsplit("/", 1)[-1] for arn in owned if ":endpoint-config/" in arn}
        for kind, items in (("endpoint-config", configs), ("model", models)):
            for name, created, tag_map in sorted(items, key=lambda item: item[0]):
                reason = self._reason(kind, name, tag_map.get(tags.MODEL), in_registry, in_use, kept_configs)
                age = round((now - created).total_seconds() / 86400, 2)
                decision = OrphanDecision(kind, name, tag_map.get(tags.MODEL), KEPT, reason, age)
                if reason == "unused":
                    decision.action = WOULD_DELETE if dry else self._delete(kind, name, report)
                    if decision.action == FAILED:
                        decision.reason = "delete_failed"
                    elif kind == "endpoint-config":
                        kept_configs.discard(name.lower())
                report.orphans.append(decision)
                level = logging.WARNING if decision.action == FAILED else logging.INFO
                log.log(level, f"orphan {decision.action}: {decision.reason}", extra={"orphan": decision.to_dict()})

    def _candidates(self, now: datetime) -> tuple[list[Candidate], list[Candidate], dict[str, dict[str, str]]] | None:
        """Old configs and models that carry this stack's tag (None: nothing to look at)."""
        cutoff = now - timedelta(days=self._retention_days)
        old_configs = list_older_than(self._sagemaker, "list_endpoint_configs", "EndpointConfigs", cutoff)
        old_models = list_older_than(self._sagemaker, "list_models", "Models", cutoff)
        if not old_configs and not old_models:
            return None
        owned = tagged_resources(self._tagging, self._stack, ["sagemaker:endpoint-config", "sagemaker:model"])
        configs = [
            (c["EndpointConfigName"], c["CreationTime"], owned[c["EndpointConfigArn"].lower()])
            for c in old_configs
            if c["EndpointConfigArn"].lower() in owned
        ]
        models = [
            (m["ModelName"], m["CreationTime"], owned[m["ModelArn"].lower()])
            for m in old_models
            if m["ModelArn"].lower() in owned
        ]
        if not configs and not models:
            return None
        return configs, models, owned

    def _in_use(
        self,
        candidate_models: set[Any],
        endpoints: Sequence[EndpointFacts],
        records: Sequence[Mapping[str, Any]],
        existing: set[str],
        report: Report,
        described: dict[str, Hosting | None],
    ) -> dict[str, set[str]]:
        """Configs and models the candidate models' endpoints use; ``unknown``: models whose endpoint could not
        be described (their candidates are kept)."""
        in_use: dict[str, set[str]] = {"endpoint-config": set(), "model": set(), "unknown": set()}
        for model in sorted(candidate_models):
            names = {f.name for f in endpoints if f.model == model}
            names |= {r["endpoint"] for r in records if r.get("model") == model and isinstance(r.get("endpoint"), str)}
            for endpoint in sorted(names & existing):
                try:
                    if endpoint not in described:
                        described[endpoint] = describe_hosting(self._sagemaker, endpoint)
                except (ClientError, BotoCoreError) as exc:
                    report.aws_error(f"describe {endpoint}", exc)
                    in_use["unknown"].add(model)
                    continue
                hosting = described[endpoint]
                if hosting is not None:
                    in_use["endpoint-config"] |= {c for c in (hosting.config, hosting.pending_config) if c}
                    in_use["model"] |= set(hosting.models)
        return in_use

    @staticmethod
    def _reason(
        kind: str,
        name: str,
        model: str | None,
        in_registry: set[str],
        in_use: Mapping[str, set[str]],
        kept_configs: set[str],
    ) -> str:
        if name in in_registry:
            return "in_registry"
        if model is None:
            return "no_model_tag"
        if model in in_use["unknown"]:
            return "in_use_unknown"
        if name in in_use[kind]:
            return "in_use"
        if kind == "model" and name.lower() in kept_configs:
            return "config_kept"
        return "unused"

    def _delete(self, kind: str, name: str, report: Report) -> str:
        try:
            if kind == "endpoint-config":
                self._sagemaker.delete_endpoint_config(EndpointConfigName=name)
            else:
                self._sagemaker.delete_model(ModelName=name)
        except (ClientError, BotoCoreError) as exc:
            if is_not_found(exc):
                return DELETED
            report.aws_error(f"delete {kind} {name}", exc)
            return FAILED
        return DELETED
