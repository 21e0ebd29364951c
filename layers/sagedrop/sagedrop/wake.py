"""Wake a hibernated model: create its endpoint again from the endpoint config cleanup kept.

Cleanup (or ``POST /models/{model}/stop``) deletes an idle endpoint and leaves its endpoint config
and model in place; the registry says ``hibernated``. The first prediction request afterwards (or
``POST /models/{model}/start``) wakes it:

1. **Claim** with a conditional registry write: status ``hibernated`` -> ``waking`` with
   ``woken_at``, on condition that the status is still ``hibernated`` and the endpoint config is the
   one read. DynamoDB applies it atomically, so of any number of concurrent requests exactly one wins
   and calls ``CreateEndpoint``; the others see ``waking`` and answer 503 too.
2. **CreateEndpoint** with the kept endpoint config and the tags deploy gives hosting resources
   (``sagedrop:stack``, ``model``, ``manifest``, ``algorithm``, ``idle-minutes``, ``keep-alive``,
   ``serverless``), read from the registry: the function's IAM policy allows CreateEndpoint only
   with this stack's ``sagedrop:stack`` request tag.
3. A CreateEndpoint that fails gives the claim back (status ``hibernated`` again, conditional on our
   ``woken_at``) so the next request can try again; a missing endpoint config is recorded in
   ``last_error`` and answered as :class:`WakeFailed`.

The deploy function turns ``waking`` into ``in_service`` on the endpoint's InService event; the
predict function does the same when it finds the endpoint InService first (:meth:`Waker.check`). A
claim whose endpoint never appeared (the claimer died between the two steps) is taken over after
:data:`WAKE_LEASE_S`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sagedrop import registry, tags
from sagedrop.aws_errors import already_exists, describe_or_none, error_message, is_not_found, is_refusal
from sagedrop.errors import SagedropError

log = logging.getLogger("sagedrop.wake")

WAKE_LEASE_S = 300
"""A ``waking`` claim this old whose endpoint does not exist is taken over by the next request."""
RETRY_AFTER_S = 60
"""What clients are told to wait while an endpoint starts (creating one takes a few minutes)."""

# Endpoint states (DescribeEndpoint EndpointStatus)
IN_SERVICE = "InService"
FAILED = "Failed"
MISSING = "Missing"


class WakeFailed(SagedropError):
    """The endpoint cannot be created again (HTTP 502): the kept config is gone or SageMaker refused."""

    http_status = 502
    error_code = "wake_failed"


@dataclass(frozen=True)
class WakeResult:
    """What :meth:`Waker.wake` did.

    ``status``: ``waking`` (this call created the endpoint), ``already_waking`` (another request
    claimed it first), ``not_hibernated`` (nothing to do: the registry says ``current_status``).
    """

    status: str
    model: str
    endpoint: str | None
    current_status: str | None = None
    woken_at: str | None = None

    @property
    def created(self) -> bool:
        return self.status == "waking"


def _seconds_since(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - then).total_seconds()


def hosting_tags(stack: str, summary: Mapping[str, Any], job: Mapping[str, Any] | None) -> dict[str, str]:
    """The tags deploy gives an endpoint, rebuilt from the registry (summary + serving job record)."""
    job = job or {}
    tag_map = {tags.STACK: stack, tags.MODEL: str(summary["model"])}
    manifest = job.get("manifest") or summary.get("manifest")
    if manifest:
        tag_map[tags.MANIFEST] = str(manifest)
    if job.get("manifest_version"):
        tag_map[tags.MANIFEST_VERSION] = str(job["manifest_version"])
    algorithm = summary.get("algorithm") or job.get("algorithm")
    if algorithm:
        tag_map[tags.ALGORITHM] = str(algorithm)
    if summary.get("idle_minutes") is not None:
        tag_map[tags.IDLE_MINUTES] = str(summary["idle_minutes"])
    if summary.get("keep_alive") is not None:
        tag_map[tags.KEEP_ALIVE] = str(bool(summary["keep_alive"])).lower()
    tag_map[tags.SERVERLESS] = str(bool(summary.get("serverless"))).lower()
    return tag_map


class Waker:
    """Re-creates hibernated endpoints, once, through injected SageMaker and registry clients."""

    def __init__(
        self,
        *,
        stack: str,
        registry_: registry.Registry,
        sagemaker: Any,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease_s: float = WAKE_LEASE_S,
    ) -> None:
        self.stack = stack
        self._registry = registry_
        self._sm = sagemaker
        self._now = now
        self._lease_s = lease_s

    # ---- wake ------------------------------------------------------------------------------

    def wake(self, summary: Mapping[str, Any], job: Mapping[str, Any] | None = None, *, reason: str) -> WakeResult:
        """Create the endpoint of a ``hibernated`` model, unless another caller already claimed it."""
        model = str(summary["model"])
        endpoint, config = summary.get("endpoint"), summary.get("endpoint_config")
        status = summary.get("status")
        if status != registry.HIBERNATED:
            return WakeResult("not_hibernated", model, endpoint, status)
        self._require_config(model, endpoint, config)
        at = self._stamp()
        claimed = self._registry.update(
            model,
            {"status": registry.WAKING, "woken_at": at, "woken_reason": reason},
            condition="#s = :hibernated AND #cfg = :cfg AND #ep = :ep",
            names={"#s": "status", "#cfg": "endpoint_config", "#ep": "endpoint"},
            values={":hibernated": registry.HIBERNATED, ":cfg": config, ":ep": endpoint},
        )
        if not claimed:
            log.info("another request claimed the wake", extra={"model": model, "endpoint": endpoint})
            return WakeResult("already_waking", model, endpoint, registry.WAKING)
        self._create(model, str(endpoint), str(config), hosting_tags(self.stack, summary, job), at)
        return WakeResult("waking", model, endpoint, registry.WAKING, at)

    def take_over(self, summary: Mapping[str, Any], job: Mapping[str, Any] | None = None) -> WakeResult:
        """Re-create the endpoint of a ``waking`` model whose claim expired without an endpoint."""
        model = str(summary["model"])
        endpoint, config = summary.get("endpoint"), summary.get("endpoint_config")
        self._require_config(model, endpoint, config)
        previous = summary.get("woken_at")
        at = self._stamp()
        condition = "#s = :waking AND " + ("#at = :previous" if previous else "attribute_not_exists(#at)")
        values: dict[str, Any] = {":waking": registry.WAKING}
        if previous:
            values[":previous"] = previous
        claimed = self._registry.update(
            model,
            {"woken_at": at, "woken_reason": "the previous wake left no endpoint"},
            condition=condition,
            names={"#s": "status", "#at": "woken_at"},
            values=values,
        )
        if not claimed:
            return WakeResult("already_waking", model, endpoint, registry.WAKING)
        log.warning("taking over an expired wake claim", extra={"model": model, "claimed_at": previous})
        self._create(model, str(endpoint), str(config), hosting_tags(self.stack, summary, job), at)
        return WakeResult("waking", model, endpoint, registry.WAKING, at)

    # ---- the endpoint's state -----------------------------------------------------------------

    def endpoint_status(self, endpoint: str) -> tuple[str, str]:
        """(EndpointStatus or :data:`MISSING`, FailureReason) from DescribeEndpoint."""
        described = describe_or_none(self._sm.describe_endpoint, EndpointName=endpoint)
        if described is None:
            return MISSING, ""
        return str(described.get("EndpointStatus", "")), str(described.get("FailureReason", ""))

    def mark_in_service(self, model: str, endpoint: str) -> bool:
        """``waking`` -> ``in_service`` once the endpoint is InService (deploy may have done it already)."""
        return self._registry.update(
            model,
            {"status": registry.IN_SERVICE},
            condition="#s = :waking AND #ep = :ep",
            names={"#s": "status", "#ep": "endpoint"},
            values={":waking": registry.WAKING, ":ep": endpoint},
        )

    def claim_expired(self, summary: Mapping[str, Any]) -> bool:
        """Whether a ``waking`` claim is older than the lease (its endpoint should exist by now)."""
        age = _seconds_since(summary.get("woken_at"), self._now())
        return age is None or age > self._lease_s

    # ---- internals ------------------------------------------------------------------------

    def _stamp(self) -> str:
        return self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    @staticmethod
    def _require_config(model: str, endpoint: Any, config: Any) -> None:
        if not endpoint or not config:
            raise WakeFailed(
                f"model {model} cannot wake: the registry keeps no endpoint and endpoint config for it; "
                "upload its training.json again to train and deploy it"
            )

    def _create(self, model: str, endpoint: str, config: str, tag_map: Mapping[str, str], at: str) -> None:
        try:
            self._sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config, Tags=tags.to_list(tag_map))
        except Exception as exc:
            message = error_message(exc)
            if already_exists(exc):
                log.info("endpoint already exists: nothing to create", extra={"model": model, "endpoint": endpoint})
                return
            if is_not_found(exc):  # CreateEndpoint names a config that is gone
                text = (
                    f"model {model} cannot wake: its endpoint config {config} no longer exists ({message}); "
                    "upload its training.json again to train and deploy it"
                )
                self._give_back(model, at, {"last_error": text, "last_error_at": registry.now_iso()})
                raise WakeFailed(text) from exc
            self._give_back(model, at, {})
            if is_refusal(exc):
                raise WakeFailed(
                    f"SageMaker refused to create endpoint {endpoint} for model {model}: {message}"
                ) from exc
            raise
        log.info("endpoint created again", extra={"model": model, "endpoint": endpoint, "config": config})

    def _give_back(self, model: str, at: str, fields: Mapping[str, Any]) -> None:
        """Undo our claim (status back to ``hibernated``) so a later request can try again."""
        self._registry.update(
            model,
            {**fields, "status": registry.HIBERNATED},
            condition="#s = :waking AND #at = :at",
            names={"#s": "status", "#at": "woken_at"},
            values={":waking": registry.WAKING, ":at": at},
        )
