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

The package, one concern a module: :mod:`.settings` (the environment), :mod:`.trigger` (the event),
:mod:`.rules` (facts, knobs, verdicts), :mod:`.metrics` (Invocations), :mod:`.listings` (List*/Describe*),
:mod:`.hibernate`, :mod:`.endpoints` and :mod:`.orphans` (the two sweeps), :mod:`.report`, :mod:`.run`
(:class:`Cleanup`). AWS errors are classified by :mod:`sagedrop.aws_errors`.
"""

from __future__ import annotations

from .hibernate import (
    SCALING_IDS_PER_CALL,
    SCALING_NAMESPACE,
    HibernateRefused,
    Hibernation,
    hibernate,
    scalable_targets,
    variant_resource_id,
)
from .listings import (
    PAGE_SIZE,
    Hosting,
    VariantHosting,
    describe_hosting,
    list_endpoints,
    list_older_than,
    tagged_resources,
)
from .metrics import (
    MAX_QUERIES_PER_CALL,
    METRIC_NAME,
    METRIC_NAMESPACE,
    ONE_MINUTE_DATA_DAYS,
    metric_period,
    read_invocations,
)
from .orphans import (
    REGISTRY_NAME_FIELDS,
)
from .report import (
    CleanupIncomplete,
    EndpointDecision,
    OrphanDecision,
    Report,
)
from .rules import (
    BUSY,
    DELETED,
    DEPLOYING,
    FAILED,
    GONE,
    HIBERNATED,
    IDLE,
    IN_SERVICE,
    KEEP_ALIVE,
    KEPT,
    METRICS_UNAVAILABLE,
    NOT_IN_SERVICE,
    SERVERLESS,
    SKIP_REASONS,
    SKIPPED,
    WOULD_DELETE,
    WOULD_HIBERNATE,
    YOUNG,
    EndpointFacts,
    Knobs,
    Verdict,
    knobs,
    static_verdict,
)
from .run import (
    Cleanup,
    utcnow,
)
from .settings import (
    MAX_IDLE_MINUTES,
    MIN_IDLE_MINUTES,
    CleanupSettings,
)
from .trigger import (
    Trigger,
)

__all__ = [
    "BUSY",
    "DELETED",
    "DEPLOYING",
    "FAILED",
    "GONE",
    "HIBERNATED",
    "IDLE",
    "IN_SERVICE",
    "KEEP_ALIVE",
    "KEPT",
    "MAX_IDLE_MINUTES",
    "MAX_QUERIES_PER_CALL",
    "METRICS_UNAVAILABLE",
    "METRIC_NAME",
    "METRIC_NAMESPACE",
    "MIN_IDLE_MINUTES",
    "NOT_IN_SERVICE",
    "ONE_MINUTE_DATA_DAYS",
    "PAGE_SIZE",
    "REGISTRY_NAME_FIELDS",
    "SCALING_IDS_PER_CALL",
    "SCALING_NAMESPACE",
    "SERVERLESS",
    "SKIPPED",
    "SKIP_REASONS",
    "WOULD_DELETE",
    "WOULD_HIBERNATE",
    "YOUNG",
    "Cleanup",
    "CleanupIncomplete",
    "CleanupSettings",
    "EndpointDecision",
    "EndpointFacts",
    "HibernateRefused",
    "Hibernation",
    "Hosting",
    "Knobs",
    "OrphanDecision",
    "Report",
    "Trigger",
    "VariantHosting",
    "Verdict",
    "describe_hosting",
    "hibernate",
    "knobs",
    "list_endpoints",
    "list_older_than",
    "metric_period",
    "read_invocations",
    "scalable_targets",
    "static_verdict",
    "tagged_resources",
    "utcnow",
    "variant_resource_id",
]
