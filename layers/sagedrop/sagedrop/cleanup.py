"""Idle endpoint cleanup: hibernate the endpoints of this stack that nobody calls, keep what wakes them.

``Cleanup.run`` is what the scheduled cleanup function does on each tick:

1. **Find this stack's endpoints** without one call per endpoint: ``ListEndpoints`` (100 a page) for
   status and times, the tagging API (``tag:GetResources`` filtered on ``sagedrop:stack``, 100 a
   page) for ownership and the per-model knobs carried as tags, and one paginated scan of the
   registry for what deploy recorded (variant, serverless, knobs, status). An endpoint is a
   candidate only when it exists *and* carries this stack's tag; every other endpoint is ignored,
   whatever its name.
2. **Rules that need no metrics**, in this order: serverless (costs nothing idle), not InService
   (Creating/Updating/Failed belong to the deploy logic), ``keep_alive``, younger than its idle
   window (since creation or last update), deploy or wake in progress in the registry.
3. **Invocations** of the rest from CloudWatch: ``AWS/SageMaker`` ``Invocations`` with *both*
   dimensions, EndpointName and VariantName (a query with EndpointName alone matches nothing, so
   every endpoint would look idle), one query per endpoint/variant, Sum over the endpoint's window,
   batched 500 queries per ``GetMetricData`` call (grouped by window length). Variant names come
   from the registry or the naming contract (``naming.VARIANT_NAME``), not from describing.
4. **Confirm** each endpoint that looks idle: ``DescribeEndpoint`` (still InService? any variant
   that was not queried? serverless after all?) and ``DescribeEndpointConfig`` (instance types, for
   the cost estimate). A variant that was not queried is read before deciding. These calls happen
   only for endpoints about to be hibernated, so scanning stays O(N/100) calls.
5. **Hibernate** (:func:`hibernate`): deregister application autoscaling of the variants where it is
   registered, ``DeleteEndpoint`` (the endpoint config and the model stay), registry status
   ``hibernated`` with ``hibernated_at`` and ``hibernated_reason``. The next prediction re-creates
   the endpoint from the kept config. ``dry_run`` decides and reports, and deletes nothing.
6. **Orphans**: endpoint configs and models of this stack older than the retention that no endpoint
   and no registry item uses are deleted (listed with ``CreationTimeBefore``, ownership checked on
   their tags).
7. **Report**: a structured log line for every decision, one SNS summary when anything was (or, dry,
   would be) deleted, and a :class:`Report` the handler turns into metrics.

Idle means zero invocations summed over all variants over the window. No data points count as zero
only for an endpoint older than the window (younger ones are kept by rule 2). A query CloudWatch
could not answer keeps the endpoint. Throttling and AWS 5xx errors on one endpoint do not stop the
others; the run reports, then raises so Lambda retries (a second run is idempotent).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagedrop import naming, pricing, registry, tags
from sagedrop.aws import error_code, error_message
from sagedrop.errors import SagedropError
from sagedrop.notify import Notifier
from sagedrop.settings import MAX_IDLE_MINUTES, MIN_IDLE_MINUTES, CleanupKnobs  # env: one parser

log = logging.getLogger("sagedrop.cleanup")

# ---- AWS facts -------------------------------------------------------------------------------

METRIC_NAMESPACE = "AWS/SageMaker"
METRIC_NAME = "Invocations"
MAX_QUERIES_PER_CALL = 500  # GetMetricData
PAGE_SIZE = 100  # ListEndpoints / ListEndpointConfigs / ListModels / tag:GetResources
SCALING_IDS_PER_CALL = 50  # DescribeScalableTargets ResourceIds
SCALING_NAMESPACE = "sagemaker"
IN_SERVICE = "InService"
ONE_MINUTE_DATA_DAYS = 15  # CloudWatch keeps 1-minute data 15 days; older periods must be multiples of 5 min


RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceException",
        "ConcurrentUpdateException",
    }
)

# ---- decisions -------------------------------------------------------------------------------

HIBERNATED = "hibernated"
WOULD_HIBERNATE = "would_hibernate"
SKIPPED = "skipped"
FAILED = "failed"

DELETED = "deleted"
WOULD_DELETE = "would_delete"
KEPT = "kept"

# Why an endpoint of this stack was not hibernated (metric names use these).
SERVERLESS = "serverless"
NOT_IN_SERVICE = "not_in_service"
KEEP_ALIVE = "keep_alive"
YOUNG = "young"
DEPLOYING = "deploying"
BUSY = "busy"
METRICS_UNAVAILABLE = "metrics_unavailable"
GONE = "gone"
SKIP_REASONS = (SERVERLESS, NOT_IN_SERVICE, KEEP_ALIVE, YOUNG, DEPLOYING, BUSY, METRICS_UNAVAILABLE, GONE)

IDLE = "idle"

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


class CleanupIncomplete(SagedropError):
    """AWS throttled or failed on some resources; the run reported what it did and must be retried."""


class HibernateRefused(SagedropError):
    """SageMaker refused to delete the endpoint (for example while it is being updated)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---- settings and trigger --------------------------------------------------------------------


@dataclass(frozen=True)
class CleanupSettings:
    """The cleanup function's knobs (template parameters, through its environment)."""

    stack: str
    idle_minutes: int = 120
    dry_run: bool = False
    orphan_retention_days: int = 7

    @classmethod
    def from_env(cls, stack: str) -> CleanupSettings:
        knobs = CleanupKnobs.from_env()
        return cls(stack, knobs.idle_minutes, knobs.dry_run, knobs.orphan_retention_days)


@dataclass(frozen=True)
class Trigger:
    """What started a run: the schedule (EventBridge Scheduler or a classic scheduled rule) or a person."""

    source: str
    time: str | None = None
    dry_run: bool = False

    @classmethod
    def from_event(cls, event: Any) -> Trigger:
        """Accept every shape a schedule delivers, and ``{"dry_run": true}`` for a manual preview.

        * EventBridge Scheduler (the template's ``ScheduleV2``, no ``Input``): Lambda receives ``{}``.
        * A classic EventBridge scheduled rule: ``{"detail-type": "Scheduled Event", "source":
          "aws.events", "time": ..., "resources": [rule arn], "detail": {}}``.
        * A manual ``aws lambda invoke`` with ``{"dry_run": true}`` reports without deleting (it
          can only make a run drier: ``false`` never overrides the stack's CleanupDryRun).

        Other keys are logged and ignored: the run does not depend on the event.
        """
        if event is None:
            return cls("scheduler")
        if not isinstance(event, Mapping):
            raise ValueError(
                f"the cleanup function expects a JSON object (the schedule's event), got {type(event).__name__}; "
                'invoke it with {} or {"dry_run": true}'
            )
        dry = event.get("dry_run", False)
        if not isinstance(dry, bool):
            raise ValueError(f'"dry_run" must be true or false, got {dry!r}; invoke with {{"dry_run": true}}')
        if event.get("detail-type") == "Scheduled Event":
            resources = event.get("resources") or []
            rule = resources[0] if isinstance(resources, list) and resources else event.get("source", "aws.events")
            return cls(f"rule:{rule}", str(event.get("time") or "") or None, dry)
        if event.get("source") == "aws.scheduler":
            return cls("scheduler", str(event.get("time") or "") or None, dry)
        unknown = sorted(set(event) - {"dry_run"})
        if unknown:
            log.warning("unrecognised keys in the cleanup event, ignored", extra={"keys": unknown[:20]})
        return cls("manual" if "dry_run" in event else "scheduler", None, dry)


# ---- what the listings say about one endpoint ------------------------------------------------


@dataclass(frozen=True)
class EndpointFacts:
    """One endpoint of this stack, from ListEndpoints, its tags and its registry summary."""

    name: str
    arn: str
    status: str
    created: datetime
    modified: datetime
    tags: Mapping[str, str] = field(default_factory=dict)
    record: Mapping[str, Any] | None = None

    @property
    def model(self) -> str | None:
        return self.tags.get(tags.MODEL) or (self.record or {}).get("model")

    @property
    def last_change(self) -> datetime:
        return max(self.created, self.modified)

    def variants(self) -> tuple[str, ...]:
        """The variant names sagedrop gave the endpoint (registry, else the naming contract)."""
        recorded = (self.record or {}).get("variant")
        return (recorded if isinstance(recorded, str) and recorded else naming.VARIANT_NAME,)


@dataclass(frozen=True)
class Knobs:
    idle_minutes: int
    keep_alive: bool
    serverless: bool
    notes: tuple[str, ...] = ()


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    return None


def _minutes(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if MIN_IDLE_MINUTES <= minutes <= MAX_IDLE_MINUTES else None


def knobs(facts: EndpointFacts, default_idle_minutes: int) -> Knobs:
    """Idle window, keep-alive and serverless for an endpoint: its tags first, then the registry.

    ``keep_alive`` and ``serverless`` hold when either source says so (the safe side). A tag that
    cannot be read is noted and the next source is used.
    """
    record = facts.record or {}
    notes = []
    idle = None
    raw_tag = facts.tags.get(tags.IDLE_MINUTES)
    if raw_tag is not None:
        idle = _minutes(raw_tag)
        if idle is None:
            notes.append(f"tag {tags.IDLE_MINUTES}={raw_tag!r} is not {MIN_IDLE_MINUTES}..{MAX_IDLE_MINUTES} minutes")
    if idle is None and record.get("idle_minutes") is not None:
        idle = _minutes(record.get("idle_minutes"))
    keep_alive = bool(_flag(facts.tags.get(tags.KEEP_ALIVE))) or bool(_flag(record.get("keep_alive")))
    serverless = bool(_flag(facts.tags.get(tags.SERVERLESS))) or bool(_flag(record.get("serverless")))
    return Knobs(idle or default_idle_minutes, keep_alive, serverless, tuple(notes))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Verdict:
    """The rules' answer before (``reason`` None: read the metrics) or instead of the metrics."""

    reason: str | None
    window_minutes: int
    age_minutes: float
    detail: str = ""


def static_verdict(facts: EndpointFacts, knob: Knobs, now: datetime) -> Verdict:
    """Every rule that needs no metric, in order: serverless, status, keep-alive, age, deploy in progress."""
    window = knob.idle_minutes
    elapsed = now - facts.last_change
    age = round(elapsed.total_seconds() / 60, 1)
    if knob.serverless:
        return Verdict(SERVERLESS, window, age, "serverless endpoints cost nothing while idle")
    if facts.status != IN_SERVICE:
        return Verdict(NOT_IN_SERVICE, window, age, f"status {facts.status}: left to the deploy logic")
    if knob.keep_alive:
        return Verdict(KEEP_ALIVE, window, age, "deploy.keep_alive is set")
    if elapsed < timedelta(minutes=window):
        return Verdict(YOUNG, window, age, f"created or updated {age} min ago, window {window} min")
    record = facts.record or {}
    if record.get("status") in (registry.DEPLOYING, registry.WAKING):
        updated = _parse_time(record.get("updated_at"))
        if updated is not None and now - updated < timedelta(minutes=window):
            return Verdict(DEPLOYING, window, age, f"registry status {record['status']} since {record['updated_at']}")
    return Verdict(None, window, age)


def metric_period(window_minutes: int) -> int:
    """One CloudWatch period covering the whole window (a multiple of 60 s; of 300 s past 15 days)."""
    seconds = window_minutes * 60
    if seconds > ONE_MINUTE_DATA_DAYS * 86400:
        seconds = -(-seconds // 300) * 300
    return seconds


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_invocations(
    cloudwatch: Any, pairs: Iterable[tuple[str, str, int]], now: datetime
) -> dict[tuple[str, str], float | None]:
    """Sum of ``Invocations`` per ``(endpoint, variant)`` over each pair's window (minutes).

    One query per pair with both dimensions, 500 queries per GetMetricData call, calls grouped by
    window length (StartTime is per call). No data points give 0.0; a query CloudWatch could not
    answer (``Forbidden``, ``InternalError``) gives None.
    """
    by_window: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for endpoint, variant, window in dict.fromkeys(pairs):
        by_window[window].append((endpoint, variant))
    paginator = cloudwatch.get_paginator("get_metric_data")
    sums: dict[tuple[str, str], float | None] = {}
    for window, items in sorted(by_window.items()):
        period = metric_period(window)
        start = now - timedelta(minutes=window)
        for chunk in _chunks(items, MAX_QUERIES_PER_CALL):
            ids = {f"q{i}": pair for i, pair in enumerate(chunk)}
            queries = [
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": METRIC_NAMESPACE,
                            "MetricName": METRIC_NAME,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": variant},
                            ],
                        },
                        "Period": period,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
                for query_id, (endpoint, variant) in ids.items()
            ]
            totals = dict.fromkeys(ids, 0.0)
            failed: set[str] = set()
            for page in paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=now):
                for result in page.get("MetricDataResults", []):
                    query_id = result.get("Id")
                    if query_id not in totals:
                        continue
                    if result.get("StatusCode") in ("Forbidden", "InternalError"):
                        failed.add(query_id)
                    totals[query_id] += float(sum(result.get("Values") or ()))
            for query_id, pair in ids.items():
                sums[pair] = None if query_id in failed else totals[query_id]
    return sums


# ---- listings ----------------------------------------------------------------------------------


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


def _not_found(exc: BaseException) -> bool:
    return error_code(exc) in ("ValidationException", "ResourceNotFound") and "could not find" in (
        error_message(exc).lower()
    )


def _describe_config(sagemaker: Any, name: str) -> dict[str, dict[str, Any]] | None:
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=name)
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise
    return {v["VariantName"]: v for v in config.get("ProductionVariants", [])}


def describe_hosting(sagemaker: Any, endpoint: str) -> Hosting | None:
    """DescribeEndpoint and DescribeEndpointConfig merged; None when the endpoint does not exist."""
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise
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


# ---- autoscaling and the hibernate operation ---------------------------------------------------


def variant_resource_id(endpoint: str, variant: str) -> str:
    """Application Auto Scaling's ResourceId of a SageMaker endpoint variant."""
    return f"endpoint/{endpoint}/variant/{variant}"


def scalable_targets(autoscaling: Any, resource_ids: Collection[str]) -> dict[str, list[str]]:
    """ResourceId -> scalable dimensions registered for it (50 ids per DescribeScalableTargets call)."""
    found: dict[str, list[str]] = defaultdict(list)
    paginator = autoscaling.get_paginator("describe_scalable_targets")
    for chunk in _chunks(sorted(set(resource_ids)), SCALING_IDS_PER_CALL):
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
                if error_code(exc) not in ("ObjectNotFoundException", "ValidationException"):
                    raise
            deregistered.append(f"{resource_id} ({dimension})")
    already_deleted = False
    try:
        sagemaker.delete_endpoint(EndpointName=endpoint)
    except ClientError as exc:
        if _not_found(exc):
            already_deleted = True
        elif error_code(exc) == "ValidationException":
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


# ---- the report --------------------------------------------------------------------------------


@dataclass
class EndpointDecision:
    endpoint: str
    model: str | None
    action: str
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "action": self.action,
            "reason": self.reason,
            **self.figures,
        }


@dataclass
class OrphanDecision:
    kind: str  # "endpoint-config" | "model"
    name: str
    model: str | None
    action: str
    reason: str
    age_days: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "model": self.model,
            "action": self.action,
            "reason": self.reason,
            "age_days": self.age_days,
        }


@dataclass
class Report:
    stack: str
    dry_run: bool
    trigger: str
    started_at: str
    scanned: int = 0
    ignored_other_stacks: int = 0
    decisions: list[EndpointDecision] = field(default_factory=list)
    orphans: list[OrphanDecision] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retry_causes: list[BaseException] = field(default_factory=list, repr=False)

    @property
    def hibernated(self) -> list[EndpointDecision]:
        """Endpoints hibernated (or, dry, that would be)."""
        return [d for d in self.decisions if d.action in (HIBERNATED, WOULD_HIBERNATE)]

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(d.reason for d in self.decisions if d.action == SKIPPED))

    @property
    def failed(self) -> list[EndpointDecision]:
        return [d for d in self.decisions if d.action == FAILED]

    @property
    def orphans_deleted(self) -> list[OrphanDecision]:
        return [o for o in self.orphans if o.action in (DELETED, WOULD_DELETE)]

    @property
    def hourly_cost_avoided(self) -> float:
        return round(sum(d.figures.get("hourly_cost_usd") or 0.0 for d in self.hibernated), 4)

    @property
    def unpriced(self) -> list[str]:
        return [d.endpoint for d in self.hibernated if d.figures.get("unpriced_instances")]

    @property
    def changed(self) -> bool:
        return bool(self.hibernated or self.orphans_deleted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "dry_run": self.dry_run,
            "trigger": self.trigger,
            "started_at": self.started_at,
            "scanned": self.scanned,
            "ignored_other_stacks": self.ignored_other_stacks,
            "hibernated": [d.to_dict() for d in self.hibernated],
            "skipped_by_reason": self.skipped_by_reason,
            "failed": [d.to_dict() for d in self.failed],
            "orphans_deleted": [o.to_dict() for o in self.orphans_deleted],
            "orphans_kept": [o.to_dict() for o in self.orphans if o.action not in (DELETED, WOULD_DELETE)],
            "estimated_hourly_cost_avoided_usd": self.hourly_cost_avoided,
            "price_source": f"{pricing.SOURCE}, {pricing.AS_OF}",
            "errors": list(self.errors),
        }

    def raise_for_errors(self) -> None:
        """Raise (so Lambda retries) when AWS throttled or failed on something during the run."""
        if self.retry_causes:
            raise CleanupIncomplete(
                f"cleanup of stack {self.stack} is incomplete, {len(self.retry_causes)} AWS error(s): "
                + "; ".join(self.errors[:5])
            ) from self.retry_causes[0]

    def message(self) -> tuple[str, str]:
        """Subject and body of the SNS summary."""
        verb = "would hibernate" if self.dry_run else "hibernated"
        parts = []
        if self.hibernated:
            parts.append(f"{verb} {len(self.hibernated)} idle endpoint{'s' if len(self.hibernated) != 1 else ''}")
        if self.orphans_deleted:
            removed = "would delete" if self.dry_run else "deleted"
            parts.append(f"{removed} {len(self.orphans_deleted)} unused config/model(s)")
        subject = ("cleanup (dry run): " if self.dry_run else "cleanup: ") + ", ".join(parts or ["nothing to do"])
        lines = [f"sagedrop cleanup of stack {self.stack} ({'dry run, nothing deleted' if self.dry_run else 'live'})."]
        if self.hibernated:
            lines += ["", f"Endpoints {verb} (nobody called them for their idle window):"]
            for d in self.hibernated:
                cost = d.figures.get("hourly_cost_usd")
                price = f"~${cost:.3f}/h" if cost else "price unknown"
                window = d.figures.get("window_minutes")
                lines.append(
                    f"  - {d.endpoint} (model {d.model or '?'}): 0 invocations in {window} min; "
                    f"{d.figures.get('instances', '?')}, {price}"
                )
            lines += [
                f"  estimated cost avoided: ~${self.hourly_cost_avoided:.3f} per hour "
                f"(us-east-1 on-demand prices, {pricing.AS_OF})",
                "",
                "Their endpoint configs and models are kept: the next prediction re-creates the endpoint "
                "(the API answers 503 with Retry-After while it starts). Set deploy.keep_alive in training.json "
                "to keep a model always on.",
            ]
        if self.orphans_deleted:
            removed = "would be deleted" if self.dry_run else "deleted"
            lines += ["", f"Unused endpoint configs and models {removed} (no endpoint and no registry item uses them):"]
            lines += [f"  - {o.kind} {o.name} ({o.age_days} days old)" for o in self.orphans_deleted]
        if self.failed or self.errors:
            lines += ["", "Problems:"] + [f"  - {e}" for e in self.errors]
        return subject, "\n".join(lines)


# ---- the flow ----------------------------------------------------------------------------------


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, BotoCoreError):
        return True
    response = getattr(exc, "response", None) or {}
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return status >= 500 or error_code(exc) in RETRYABLE_CODES


class Cleanup:
    """The cleanup function's domain logic, with its AWS clients injected."""

    def __init__(
        self,
        settings: CleanupSettings,
        *,
        sagemaker: Any,
        cloudwatch: Any,
        autoscaling: Any,
        tagging: Any,
        registry_: registry.Registry,
        notifier: Notifier,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._sagemaker = sagemaker
        self._cloudwatch = cloudwatch
        self._autoscaling = autoscaling
        self._tagging = tagging
        self._registry = registry_
        self._notifier = notifier
        self._clock = clock

    # ---- entry point ----------------------------------------------------------------------

    def run(self, trigger: Trigger | None = None) -> Report:
        trigger = trigger or Trigger("scheduler")
        now = self._clock()
        dry = self.settings.dry_run or trigger.dry_run
        report = Report(self.settings.stack, dry, trigger.source, now.isoformat())
        log.info(
            "cleanup started",
            extra={
                "stack": self.settings.stack,
                "dry_run": dry,
                "trigger": trigger.source,
                "trigger_time": trigger.time,
                "idle_minutes": self.settings.idle_minutes,
                "orphan_retention_days": self.settings.orphan_retention_days,
            },
        )
        listed = list_endpoints(self._sagemaker)
        owned = tagged_resources(self._tagging, self.settings.stack, ["sagemaker:endpoint"])
        records = [item for item in self._registry.models() if item.get("stack") in (None, "", self.settings.stack)]
        endpoints = self._facts(listed, owned, records)
        report.scanned = len(endpoints)
        report.ignored_other_stacks = len(listed) - len(endpoints)
        described: dict[str, Hosting | None] = {}
        self._endpoints(endpoints, now, dry, report, described)
        self._orphans(listed, endpoints, records, now, dry, report, described)
        self._notify(report)
        log.info(
            "cleanup finished",
            extra={
                "stack": self.settings.stack,
                "dry_run": dry,
                "scanned": report.scanned,
                "ignored_other_stacks": report.ignored_other_stacks,
                "hibernated": len(report.hibernated),
                "skipped_by_reason": report.skipped_by_reason,
                "failed": len(report.failed),
                "orphans_deleted": len(report.orphans_deleted),
                "estimated_hourly_cost_avoided_usd": report.hourly_cost_avoided,
                "errors": report.errors,
            },
        )
        return report

    # ---- endpoints ------------------------------------------------------------------------

    @staticmethod
    def _facts(
        listed: Sequence[Mapping[str, Any]],
        owned: Mapping[str, Mapping[str, str]],
        records: Sequence[Mapping[str, Any]],
    ) -> list[EndpointFacts]:
        by_endpoint: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for record in records:
            if isinstance(record.get("endpoint"), str):
                by_endpoint[record["endpoint"]].append(record)
        facts = []
        for summary in listed:
            tag_map = owned.get(summary["EndpointArn"].lower())
            if tag_map is None:
                continue  # not this stack's: never touched, whatever its name
            name = summary["EndpointName"]
            candidates = by_endpoint.get(name, [])
            # Two models naming one endpoint (a manifest's deploy.endpoint_name): the model tag decides.
            record = next((r for r in candidates if r.get("model") == tag_map.get(tags.MODEL)), None)
            if record is None and candidates:
                record = candidates[0]
            facts.append(
                EndpointFacts(
                    name=name,
                    arn=summary["EndpointArn"],
                    status=summary.get("EndpointStatus", ""),
                    created=summary["CreationTime"],
                    modified=summary.get("LastModifiedTime") or summary["CreationTime"],
                    tags=dict(tag_map),
                    record=record,
                )
            )
        return facts

    def _endpoints(
        self,
        endpoints: Sequence[EndpointFacts],
        now: datetime,
        dry: bool,
        report: Report,
        described: dict[str, Hosting | None],
    ) -> None:
        pending: list[tuple[EndpointFacts, Verdict]] = []
        for facts in endpoints:
            knob = knobs(facts, self.settings.idle_minutes)
            verdict = static_verdict(facts, knob, now)
            figures = self._figures(facts, verdict, knob)
            if verdict.reason is not None:
                self._decide(report, EndpointDecision(facts.name, facts.model, SKIPPED, verdict.reason, figures))
            else:
                pending.append((facts, verdict))
        if not pending:
            return

        # Invocations of the variants sagedrop gave them, 500 queries per call.
        sums = read_invocations(
            self._cloudwatch,
            [(f.name, variant, v.window_minutes) for f, v in pending for variant in f.variants()],
            now,
        )
        suspects: list[tuple[EndpointFacts, Verdict, dict[str, float | None]]] = []
        for facts, verdict in pending:
            per_variant = {variant: sums.get((facts.name, variant)) for variant in facts.variants()}
            if self._decided_by_metrics(report, facts, verdict, per_variant):
                continue
            suspects.append((facts, verdict, per_variant))

        # Confirm what looks idle: still InService, every variant read, serverless after all?
        confirmed: list[tuple[EndpointFacts, Verdict, dict[str, float | None], Hosting]] = []
        extra: list[tuple[EndpointFacts, Verdict, dict[str, float | None], Hosting]] = []
        for facts, verdict, per_variant in suspects:
            try:
                hosting = described[facts.name] = describe_hosting(self._sagemaker, facts.name)
            except (ClientError, BotoCoreError) as exc:
                self._fail(report, facts, verdict, "describe", exc)
                continue
            base = self._figures(facts, verdict, None)
            if hosting is None:
                self._decide(report, EndpointDecision(facts.name, facts.model, SKIPPED, GONE, base))
            elif hosting.serverless:
                self._decide(report, EndpointDecision(facts.name, facts.model, SKIPPED, SERVERLESS, base))
            elif hosting.status != IN_SERVICE:
                base["status"] = hosting.status
                self._decide(report, EndpointDecision(facts.name, facts.model, SKIPPED, NOT_IN_SERVICE, base))
            elif set(hosting.variant_names) - set(per_variant):
                extra.append((facts, verdict, per_variant, hosting))
            else:
                confirmed.append((facts, verdict, per_variant, hosting))
        if extra:
            more = read_invocations(
                self._cloudwatch,
                [
                    (f.name, name, v.window_minutes)
                    for f, v, per_variant, hosting in extra
                    for name in hosting.variant_names
                    if name not in per_variant
                ],
                now,
            )
            for facts, verdict, per_variant, hosting in extra:
                for name in hosting.variant_names:
                    per_variant.setdefault(name, more.get((facts.name, name)))
                if not self._decided_by_metrics(report, facts, verdict, per_variant):
                    confirmed.append((facts, verdict, per_variant, hosting))
        if not confirmed:
            return

        resource_ids = [
            variant_resource_id(facts.name, name)
            for facts, _, _, hosting in confirmed
            for name in hosting.variant_names
        ]
        try:
            scaling = scalable_targets(self._autoscaling, resource_ids)
        except (ClientError, BotoCoreError) as exc:
            for facts, verdict, _, _ in confirmed:
                self._fail(report, facts, verdict, "describe autoscaling", exc)
            return
        for facts, verdict, per_variant, hosting in confirmed:
            self._hibernate_one(report, facts, verdict, per_variant, hosting, scaling, dry)

    def _figures(self, facts: EndpointFacts, verdict: Verdict, knob: Knobs | None) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "status": facts.status,
            "window_minutes": verdict.window_minutes,
            "age_minutes": verdict.age_minutes,
            "last_change": facts.last_change.isoformat(),
        }
        if verdict.detail:
            figures["detail"] = verdict.detail
        if knob is not None and knob.notes:
            figures["notes"] = list(knob.notes)
        return figures

    def _decided_by_metrics(
        self, report: Report, facts: EndpointFacts, verdict: Verdict, per_variant: Mapping[str, float | None]
    ) -> bool:
        """Record busy / metrics-unavailable; False when every variant read zero (idle so far)."""
        figures = self._figures(facts, verdict, None)
        figures["invocations"] = dict(per_variant)
        if any(value is None for value in per_variant.values()):
            figures["detail"] = "CloudWatch could not answer for a variant; kept"
            self._decide(report, EndpointDecision(facts.name, facts.model, SKIPPED, METRICS_UNAVAILABLE, figures))
            return True
        total = sum(value or 0.0 for value in per_variant.values())
        if total > 0:
            figures["total_invocations"] = total
            self._decide(report, EndpointDecision(facts.name, facts.model, SKIPPED, BUSY, figures))
            return True
        return False

    def _hibernate_one(
        self,
        report: Report,
        facts: EndpointFacts,
        verdict: Verdict,
        per_variant: Mapping[str, float | None],
        hosting: Hosting,
        scaling: Mapping[str, Sequence[str]],
        dry: bool,
    ) -> None:
        cost, unpriced = hosting.hourly_cost()
        figures = self._figures(facts, verdict, None)
        figures.update(
            {
                "invocations": dict(per_variant),
                "total_invocations": 0.0,
                "instances": hosting.instances(),
                "endpoint_config": hosting.config,
                "hourly_cost_usd": cost,
                "autoscaling": sorted(
                    rid for rid in scaling if rid in {variant_resource_id(facts.name, n) for n in hosting.variant_names}
                ),
            }
        )
        if unpriced:
            figures["unpriced_instances"] = unpriced
        reason = (
            f"no invocations in the last {verdict.window_minutes} minutes "
            f"(variants {', '.join(sorted(per_variant))}); hibernated by cleanup"
        )
        if dry:
            self._decide(report, EndpointDecision(facts.name, facts.model, WOULD_HIBERNATE, IDLE, figures))
            return
        try:
            done = hibernate(
                facts.name,
                model=facts.model,
                variants=hosting.variant_names,
                reason=reason,
                sagemaker=self._sagemaker,
                autoscaling=self._autoscaling,
                registry_=self._registry,
                scaling=scaling,
            )
        except HibernateRefused as exc:
            figures["detail"] = str(exc)
            report.errors.append(str(exc))
            self._decide(report, EndpointDecision(facts.name, facts.model, FAILED, "delete_refused", figures))
            return
        except (ClientError, BotoCoreError) as exc:
            self._fail(report, facts, verdict, "hibernate", exc)
            return
        figures.update(
            {
                "hibernated_at": done.at,
                "deregistered_autoscaling": list(done.deregistered),
                "registry_updated": done.registry_updated,
            }
        )
        if done.already_deleted:
            figures["detail"] = "the endpoint was already deleted"
        self._decide(report, EndpointDecision(facts.name, facts.model, HIBERNATED, IDLE, figures))

    def _fail(self, report: Report, facts: EndpointFacts, verdict: Verdict, step: str, exc: BaseException) -> None:
        message = self._error(report, f"{step} {facts.name}", exc)
        figures = self._figures(facts, verdict, None)
        figures["detail"] = message
        self._decide(report, EndpointDecision(facts.name, facts.model, FAILED, step.replace(" ", "_"), figures))

    @staticmethod
    def _decide(report: Report, decision: EndpointDecision) -> None:
        report.decisions.append(decision)
        level = logging.WARNING if decision.action == FAILED else logging.INFO
        log.log(level, f"endpoint {decision.action}: {decision.reason}", extra={"decision": decision.to_dict()})

    # ---- orphans --------------------------------------------------------------------------

    def _orphans(
        self,
        listed: Sequence[Mapping[str, Any]],
        endpoints: Sequence[EndpointFacts],
        records: Sequence[Mapping[str, Any]],
        now: datetime,
        dry: bool,
        report: Report,
        described: dict[str, Hosting | None],
    ) -> None:
        cutoff = now - timedelta(days=self.settings.orphan_retention_days)
        old_configs = list_older_than(self._sagemaker, "list_endpoint_configs", "EndpointConfigs", cutoff)
        old_models = list_older_than(self._sagemaker, "list_models", "Models", cutoff)
        if not old_configs and not old_models:
            return
        owned = tagged_resources(self._tagging, self.settings.stack, ["sagemaker:endpoint-config", "sagemaker:model"])
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
            return

        in_registry = {
            value for record in records for key in REGISTRY_NAME_FIELDS if isinstance(value := record.get(key), str)
        }
        hibernated_now = {d.endpoint for d in report.decisions if d.action == HIBERNATED}
        existing = {summary["EndpointName"] for summary in listed} - hibernated_now

        # Endpoints that may use a candidate: this stack's endpoints of the same model (tag
        # sagedrop:model), and the endpoint the registry names for it. Only those are described,
        # and only when the model has a candidate (rare: after retrains, once per retention).
        candidate_models = {t.get(tags.MODEL) for name, _, t in configs + models if name not in in_registry} - {None}
        in_use_configs: set[str] = set()
        in_use_models: set[str] = set()
        unknown_models: set[str] = set()
        for model in sorted(candidate_models):
            names = {f.name for f in endpoints if f.model == model}
            names |= {r["endpoint"] for r in records if r.get("model") == model and isinstance(r.get("endpoint"), str)}
            for endpoint in sorted(names & existing):
                try:
                    if endpoint not in described:
                        described[endpoint] = describe_hosting(self._sagemaker, endpoint)
                except (ClientError, BotoCoreError) as exc:
                    self._error(report, f"describe {endpoint}", exc)
                    unknown_models.add(model)
                    continue
                hosting = described[endpoint]
                if hosting is not None:
                    in_use_configs |= {c for c in (hosting.config, hosting.pending_config) if c}
                    in_use_models |= set(hosting.models)

        # A model whose same-named config (named after the same job) stays is kept with it.
        kept_configs = {arn.rsplit("/", 1)[-1] for arn in owned if ":endpoint-config/" in arn}
        for kind, items in (("endpoint-config", configs), ("model", models)):
            for name, created, tag_map in sorted(items, key=lambda item: item[0]):
                model = tag_map.get(tags.MODEL)
                age = round((now - created).total_seconds() / 86400, 2)
                if name in in_registry:
                    reason = "in_registry"
                elif model is None:
                    reason = "no_model_tag"
                elif model in unknown_models:
                    reason = "in_use_unknown"
                elif name in (in_use_configs if kind == "endpoint-config" else in_use_models):
                    reason = "in_use"
                elif kind == "model" and name.lower() in kept_configs:
                    reason = "config_kept"
                else:
                    reason = "unused"
                decision = OrphanDecision(kind, name, model, KEPT, reason, age)
                if reason == "unused":
                    decision.action = WOULD_DELETE if dry else self._delete_orphan(kind, name, report)
                    if decision.action == FAILED:
                        decision.reason = "delete_failed"
                    elif kind == "endpoint-config":
                        kept_configs.discard(name.lower())
                report.orphans.append(decision)
                level = logging.WARNING if decision.action == FAILED else logging.INFO
                log.log(level, f"orphan {decision.action}: {decision.reason}", extra={"orphan": decision.to_dict()})

    def _delete_orphan(self, kind: str, name: str, report: Report) -> str:
        try:
            if kind == "endpoint-config":
                self._sagemaker.delete_endpoint_config(EndpointConfigName=name)
            else:
                self._sagemaker.delete_model(ModelName=name)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and _not_found(exc):
                return DELETED
            self._error(report, f"delete {kind} {name}", exc)
            return FAILED
        return DELETED

    @staticmethod
    def _error(report: Report, step: str, exc: BaseException) -> str:
        message = f"{step}: {error_code(exc) or type(exc).__name__}: {error_message(exc)}"
        report.errors.append(message)
        if _is_retryable(exc):
            report.retry_causes.append(exc)
        return message

    # ---- notification ---------------------------------------------------------------------

    def _notify(self, report: Report) -> None:
        if not report.changed and not report.failed:
            return
        subject, body = report.message()
        self._notifier.publish(
            subject,
            body,
            event="cleanup_dry_run" if report.dry_run else "cleanup",
            model="",
            details={
                "hibernated": [d.to_dict() for d in report.hibernated],
                "orphans_deleted": [o.to_dict() for o in report.orphans_deleted],
                "failed": [d.to_dict() for d in report.failed],
                "scanned": report.scanned,
                "skipped_by_reason": report.skipped_by_reason,
                "estimated_hourly_cost_avoided_usd": report.hourly_cost_avoided,
            },
        )
