"""What ListEndpoints, the tagging API, ListEndpointConfigs/ListModels and Describe* say (paginated, checked)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sagedrop import pricing, tags
from sagedrop.aws_errors import describe_or_none

PAGE_SIZE = 100  # ListEndpoints / ListEndpointConfigs / ListModels / tag:GetResources


def list_endpoints(sagemaker: Any) -> list[dict[str, Any]]:
    pages = sagemaker.get_paginator("list_endpoints").paginate(PaginationConfig={"PageSize": PAGE_SIZE})
    return [summary for page in pages for summary in page.get("Endpoints", [])]


def tagged_resources(tagging: Any, stack: str, resource_types: Sequence[str]) -> dict[str, dict[str, str]]:
    """ARN (lower case) -> tags of every resource of these types carrying ``sagedrop:stack = stack``."""
    pages = tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": tags.STACK, "Values": [stack]}],
        ResourceTypeFilters=list(resource_types),
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    found = {}
    for page in pages:
        for mapping in page.get("ResourceTagMappingList", []):
            tag_map = tags.to_map(mapping.get("Tags"))
            if tags.owned_by(tag_map, stack):  # the filter already did this; never trust a single check
                found[mapping["ResourceARN"].lower()] = tag_map
    return found


def list_older_than(sagemaker: Any, operation: str, key: str, cutoff: datetime) -> list[dict[str, Any]]:
    """ListEndpointConfigs / ListModels summaries created before ``cutoff`` (paginated, re-checked)."""
    pages = sagemaker.get_paginator(operation).paginate(
        CreationTimeBefore=cutoff, PaginationConfig={"PageSize": PAGE_SIZE}
    )
    return [item for page in pages for item in page.get(key, []) if item["CreationTime"] < cutoff]


# ---- what DescribeEndpoint / DescribeEndpointConfig say ----------------------------------------


@dataclass(frozen=True)
class VariantHosting:
    name: str
    instance_type: str | None
    instance_count: int
    serverless: bool
    model: str | None = None


@dataclass(frozen=True)
class Hosting:
    """An endpoint as SageMaker describes it: status, configs in use, variants and their instances."""

    endpoint: str
    status: str
    config: str | None
    pending_config: str | None = None
    variants: tuple[VariantHosting, ...] = ()
    models: frozenset[str] = frozenset()

    @property
    def serverless(self) -> bool:
        return bool(self.variants) and all(v.serverless for v in self.variants)

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)

    def hourly_cost(self) -> tuple[float, list[str]]:
        return pricing.hourly_cost((v.instance_type, v.instance_count) for v in self.variants if not v.serverless)

    def instances(self) -> str:
        parts = [
            "serverless" if v.serverless else f"{v.instance_type or '?'} x{v.instance_count}" for v in self.variants
        ]
        return ", ".join(parts) or "?"


def _describe_config(sagemaker: Any, name: str) -> dict[str, dict[str, Any]] | None:
    config = describe_or_none(sagemaker.describe_endpoint_config, EndpointConfigName=name)
    if config is None:
        return None
    return {v["VariantName"]: v for v in config.get("ProductionVariants", [])}


def describe_hosting(sagemaker: Any, endpoint: str) -> Hosting | None:
    """DescribeEndpoint and DescribeEndpointConfig merged; None when the endpoint does not exist."""
    described = describe_or_none(sagemaker.describe_endpoint, EndpointName=endpoint)
    if described is None:
        return None
    config_name = described.get("EndpointConfigName")
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    config_variants = _describe_config(sagemaker, config_name) if config_name else None
    models = {v["ModelName"] for v in (config_variants or {}).values() if v.get("ModelName")}
    if pending and pending != config_name:
        models |= {v["ModelName"] for v in (_describe_config(sagemaker, pending) or {}).values() if v.get("ModelName")}
    variants = []
    for variant in described.get("ProductionVariants", []):
        name = variant["VariantName"]
        configured = (config_variants or {}).get(name, {})
        serverless = bool(
            variant.get("CurrentServerlessConfig")
            or variant.get("DesiredServerlessConfig")
            or configured.get("ServerlessConfig")
        )
        count = variant.get("CurrentInstanceCount")
        if count is None:
            count = configured.get("InitialInstanceCount", 0 if serverless else 1)
        variants.append(
            VariantHosting(name, configured.get("InstanceType"), int(count), serverless, configured.get("ModelName"))
        )
    return Hosting(
        endpoint, described.get("EndpointStatus", ""), config_name, pending, tuple(variants), frozenset(models)
    )
