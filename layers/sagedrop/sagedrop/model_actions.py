"""``POST /models/{model}/stop`` and ``/start``: hibernate a model now, or wake it now.

Stop hibernates the model (``sagedrop.cleanup.hibernate``, the same state idle cleanup leaves); start wakes
it (:mod:`sagedrop.wake`) and answers 202 while the endpoint is created. Both are idempotent and say so
(200 when the model already is in the asked state, 409 when nothing can be done). The name has been
checked by :class:`sagedrop.predict.PredictionService`, which owns the routes and delegates here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sagedrop import naming, registry
from sagedrop.predict_errors import EndpointError, ModelBusy, ModelNotFound, NotDeployed, PredictError
from sagedrop.served import ModelDirectory, no_endpoint_hint, reason_text
from sagedrop.wake import Waker, WakeResult


@dataclass(frozen=True)
class ModelAction:
    """What ``POST /models/{model}/stop`` or ``/start`` did: the HTTP status and the answer's body."""

    http_status: int
    body: dict[str, Any]


STOP_REASON = "stopped by request (POST /models/{model}/stop)"
ENDPOINT_CHANGING = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")


class ModelActions:
    """Stop and start, with the predict function's registry, model directory and waker."""

    def __init__(
        self,
        directory: ModelDirectory,
        registry_: registry.Registry,
        waker: Waker,
        *,
        sagemaker: Any,
        autoscaling: Any,
        not_found: Callable[[str], ModelNotFound],
    ) -> None:
        self._directory = directory
        self._registry = registry_
        self._waker = waker
        self._sagemaker = sagemaker
        """The SageMaker control-plane and Application Auto Scaling clients: only ``stop`` uses them."""
        self._autoscaling = autoscaling
        self._not_found = not_found

    def stop(self, name: str, *, by: str = "") -> ModelAction:
        """Hibernate a model now, as idle cleanup does (:func:`sagedrop.cleanup.hibernate`): the endpoint is
        deleted, its config and model are kept. Idempotent: an already stopped model answers 200 saying so;
        a model without an endpoint answers 409 (not_deployed), one whose endpoint is changing 409 (busy).
        ``by`` (the caller, :mod:`sagedrop.caller`) is recorded as ``stopped_by``."""
        served = self._directory.get(name, fresh=True)
        if served is None:
            raise self._not_found(name)
        self._directory.invalidate(name)
        summary, status = served.summary, served.status
        endpoint = served.endpoint
        if status == registry.HIBERNATED:
            since = summary.get("hibernated_at")
            return self._answer(
                200,
                summary,
                f"model {name} is already stopped"
                + (f" (since {since})" if since else "")
                + f"; POST /models/{name}/start or a prediction wakes it",
            )
        if not endpoint or not summary.get("serving_job"):
            raise NotDeployed(f"model {name} has no endpoint to stop (status {status}): nothing was deployed yet")
        if status in (registry.DEPLOYING, registry.WAKING):
            what = "a new model is being deployed to it" if status == registry.DEPLOYING else "it is waking up"
            raise ModelBusy(
                f"model {name} cannot be stopped now: {what} (endpoint {endpoint}); retry when GET /models/{name} "
                "says in_service"
            )
        state, _ = self._waker.endpoint_status(str(endpoint))
        if state in ENDPOINT_CHANGING and state != "Deleting":
            raise ModelBusy(
                f"model {name} cannot be stopped now: endpoint {endpoint} is {state}; retry when it is InService"
            )
        from sagedrop import cleanup  # deferred: only stop needs it

        if self._sagemaker is None or self._autoscaling is None:
            raise PredictError("stop needs the SageMaker and Application Auto Scaling clients")
        try:
            done = cleanup.hibernate(
                str(endpoint),
                model=name,
                variants=[str(summary.get("variant") or naming.VARIANT_NAME)],
                reason=STOP_REASON.format(model=name),
                sagemaker=self._sagemaker,
                autoscaling=self._autoscaling,
                registry_=self._registry,
            )
        except cleanup.HibernateRefused as exc:
            raise ModelBusy(f"model {name} cannot be stopped now: {exc}; retry in a minute") from exc
        self._record_caller(name, "stopped", by)
        after = self._registry.get(name, consistent=True) or summary
        gone = "was already gone" if done.already_deleted else "was deleted"
        return self._answer(
            200,
            after,
            f"model {name} is stopped: endpoint {endpoint} {gone}, its endpoint config and model are kept; "
            f"POST /models/{name}/start or a prediction wakes it",
        )

    def start(self, name: str, *, reason: str = "start requested", by: str = "") -> ModelAction:
        """Wake a stopped (hibernated) model now (:mod:`sagedrop.wake`): 202 while the endpoint is created,
        and the registry follows (waking, then in_service). Idempotent: a model already in service answers
        200, one already waking 202; a model that was never deployed 409 (not_deployed). ``by`` (the caller) is
        recorded as ``started_by`` when this call wakes the model."""
        served = self._directory.get(name, fresh=True)
        if served is None:
            raise self._not_found(name)
        self._directory.invalidate(name)
        summary, status, endpoint = served.summary, served.status, served.endpoint
        if status == registry.HIBERNATED:
            return self._woken(name, self._waker.wake(summary, served.job, reason=reason), by)
        if status == registry.WAKING:
            state, failure = self._waker.endpoint_status(str(endpoint or ""))
            if state == "InService":
                self._waker.mark_in_service(name, str(endpoint))
                return self._answer(200, {**summary, "status": registry.IN_SERVICE}, f"model {name} is running")
            if state == "Failed":
                raise EndpointError(
                    f"model {name} could not wake: endpoint {endpoint} failed ({failure})", code="wake_failed"
                )
            if state == "Missing" and self._waker.claim_expired(summary):
                return self._woken(name, self._waker.take_over(summary, served.job))
            return self._answer(
                202, summary, f"model {name} is already waking up (since {summary.get('woken_at')}): {self._soon(name)}"
            )
        if not endpoint or not summary.get("serving_job"):
            if status == registry.DEPLOYING:
                job = summary.get("pending_job") or summary.get("deploying_job") or summary.get("latest_job")
                return self._answer(
                    202, summary, f"model {name} is being deployed for the first time ({job}): {self._soon(name)}"
                )
            raise NotDeployed(
                f"model {name} was never deployed, so there is nothing to start (status {status})"
                f"{reason_text(summary)}; {no_endpoint_hint(status)}"
            )
        state, failure = self._waker.endpoint_status(str(endpoint))
        if state == "Missing":
            # The registry says an endpoint serves, but it is gone (deleted by hand?): wake it from its config.
            self._registry.update(
                name,
                {"status": registry.HIBERNATED, "hibernated_reason": "the endpoint was gone when start was requested"},
                condition="#s = :seen AND #ep = :ep",
                names={"#s": "status", "#ep": "endpoint"},
                values={":seen": status, ":ep": endpoint},
            )
            fresh = self._directory.get(name, fresh=True)
            self._directory.invalidate(name)
            if fresh is not None and fresh.status == registry.HIBERNATED:
                return self._woken(name, self._waker.wake(fresh.summary, fresh.job, reason=reason), by)
            raise ModelBusy(f"model {name} changed while starting it (status {fresh and fresh.status}); retry")
        if state == "Failed":
            raise ModelBusy(
                f"model {name} cannot be started: endpoint {endpoint} failed ({failure}); POST /models/{name}/stop "
                f"then /start re-creates it from the kept config, or upload a new model"
            )
        if state == "Deleting":
            raise ModelBusy(
                f"model {name} cannot be started now: endpoint {endpoint} is being deleted; retry in a minute"
            )
        if state == "Creating":
            return self._answer(
                202, summary, f"model {name}'s endpoint {endpoint} is being created: {self._soon(name)}"
            )
        return self._answer(200, summary, f"model {name} is already running (endpoint {endpoint} is {state})")

    def _record_caller(self, name: str, action: str, by: str) -> None:
        if by:
            self._registry.update(name, {f"{action}_by": by, f"{action}_by_at": registry.now_iso()})

    def _woken(self, name: str, result: WakeResult, by: str = "") -> ModelAction:
        if result.created:
            self._record_caller(name, "started", by)
        verb = "is waking up now" if result.created else "is already waking up"
        summary = self._registry.get(name, consistent=True) or {"model": name, "status": result.current_status}
        return self._answer(
            202, summary, f"model {name} {verb}: endpoint {result.endpoint} is being created; {self._soon(name)}"
        )

    @staticmethod
    def _soon(name: str) -> str:
        return f"an endpoint takes a few minutes to start; GET /models/{name} says in_service when it serves"

    @staticmethod
    def _answer(status: int, summary: Mapping[str, Any], message: str) -> ModelAction:
        body = {"model": summary.get("model"), "status": summary.get("status"), "endpoint": summary.get("endpoint")}
        for key in ("hibernated_at", "woken_at"):
            if summary.get(key):
                body[key] = summary[key]
        body["message"] = message
        return ModelAction(status, body)
