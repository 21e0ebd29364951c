"""Hibernate one endpoint: deregister its autoscaling, delete it, keep its config and model (what wakes it)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sagedrop import registry
from sagedrop.aws_errors import error_message, is_not_found, is_validation
from sagedrop.errors import SagedropError

from .metrics import chunks

log = logging.getLogger("sagedrop.cleanup")

SCALING_IDS_PER_CALL = 50  # DescribeScalableTargets ResourceIds
SCALING_NAMESPACE = "sagemaker"


class HibernateRefused(SagedropError):
    """SageMaker refused to delete the endpoint (for example while it is being updated)."""


def variant_resource_id(endpoint: str, variant: str) -> str:
    """Application Auto Scaling's ResourceId of a SageMaker endpoint variant."""
    return f"endpoint/{endpoint}/variant/{variant}"


def scalable_targets(autoscaling: Any, resource_ids: Collection[str]) -> dict[str, list[str]]:
    """ResourceId -> scalable dimensions registered for it (50 ids per DescribeScalableTargets call)."""
    found: dict[str, list[str]] = defaultdict(list)
    paginator = autoscaling.get_paginator("describe_scalable_targets")
    for chunk in chunks(sorted(set(resource_ids)), SCALING_IDS_PER_CALL):
        for page in paginator.paginate(ServiceNamespace=SCALING_NAMESPACE, ResourceIds=list(chunk)):
            for target in page.get("ScalableTargets", []):
                found[target["ResourceId"]].append(target["ScalableDimension"])
    return dict(found)


@dataclass(frozen=True)
class Hibernation:
    """What :func:`hibernate` did."""

    endpoint: str
    model: str | None
    at: str
    reason: str
    deregistered: tuple[str, ...] = ()
    already_deleted: bool = False
    registry_updated: bool = False


def hibernate(
    endpoint: str,
    *,
    model: str | None,
    variants: Sequence[str],
    reason: str,
    sagemaker: Any,
    autoscaling: Any,
    registry_: registry.Registry | None,
    scaling: Mapping[str, Sequence[str]] | None = None,
) -> Hibernation:
    """Delete ``endpoint`` and keep what wakes it (its endpoint config and model stay).

    1. Application autoscaling registered for any of ``variants`` is deregistered first (``scaling``:
       ResourceId -> dimensions, when the caller already looked them up; otherwise one
       DescribeScalableTargets call per 50 variants).
    2. ``DeleteEndpoint``. An endpoint that no longer exists counts as deleted; one SageMaker refuses
       to delete (ValidationException, e.g. while updating) raises :class:`HibernateRefused`.
    3. The model's registry summary becomes ``hibernated`` with ``hibernated_at`` and
       ``hibernated_reason``, on condition that it still names this endpoint (a model that moved to
       another endpoint keeps its status).

    Reused by the manual stop API. Throttling and AWS 5xx errors propagate.
    """
    resource_ids = [variant_resource_id(endpoint, variant) for variant in dict.fromkeys(variants)]
    if scaling is None:
        scaling = scalable_targets(autoscaling, resource_ids) if resource_ids else {}
    deregistered = []
    for resource_id in resource_ids:
        for dimension in scaling.get(resource_id, ()):
            try:
                autoscaling.deregister_scalable_target(
                    ServiceNamespace=SCALING_NAMESPACE, ResourceId=resource_id, ScalableDimension=dimension
                )
            except ClientError as exc:
                # ObjectNotFoundException (AWS) / ValidationException (not registered): already gone.
                if not (is_not_found(exc) or is_validation(exc)):
                    raise
            deregistered.append(f"{resource_id} ({dimension})")
    already_deleted = False
    try:
        sagemaker.delete_endpoint(EndpointName=endpoint)
    except ClientError as exc:
        if is_not_found(exc):
            already_deleted = True
        elif is_validation(exc):
            raise HibernateRefused(f"SageMaker refused to delete endpoint {endpoint}: {error_message(exc)}") from exc
        else:
            raise
    at = registry.now_iso()
    updated = False
    if model and registry_ is not None:
        updated = registry_.update(
            model,
            {"status": registry.HIBERNATED, "hibernated_at": at, "hibernated_reason": reason},
            condition="attribute_exists(#model) AND #endpoint = :endpoint",
            names={"#model": "model", "#endpoint": "endpoint"},
            values={":endpoint": endpoint},
        )
        if not updated:
            log.warning(
                "the registry does not name this endpoint for the model; status left as it was",
                extra={"endpoint": endpoint, "model": model},
            )
    return Hibernation(endpoint, model, at, reason, tuple(deregistered), already_deleted, updated)
