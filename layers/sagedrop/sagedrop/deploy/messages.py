"""The deploy flow's words: the notifications' texts and the small formatters they share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagedrop import algorithms
from sagedrop.errors import UserError
from sagedrop.hosting import Release
from sagedrop.manifest import DeploySettings

from .context import SOURCE_PRETRAINED


def metrics_text(metrics: Mapping[str, Any]) -> str:
    if not metrics:
        return "none reported"
    return ", ".join(
        f"{name} = {value:g}" if isinstance(value, float) else f"{name} = {value}"
        for name, value in sorted(metrics.items())
    )


def problems(exc: UserError) -> list[dict[str, str]]:
    return [{"path": p.path, "message": p.message, "hint": p.hint} for p in exc.problems]


def failure_hint(secondary: str, reason: str) -> str:
    text = f"{secondary} {reason}".lower()
    if "maxruntimeexceeded" in text:
        return "The job reached training.max_runtime_s: raise it in the manifest or train on less data."
    if "maxwaittimeexceeded" in text:
        return "Spot capacity did not come in time (training.max_wait_s): raise it or set spot: false."
    if "resourcelimitexceeded" in text or "quota" in text:
        return "A SageMaker quota was reached: ask for more in Service Quotas or use another instance type."
    if "capacityerror" in text or "insufficient capacity" in text:
        return "SageMaker had no capacity for the instance type: retry later or pick another training.instance_type."
    return ""


def feature_dim(record: Mapping[str, Any]) -> int | None:
    """What predict checks CSV rows against, from the serving job's hyperparameters."""
    try:
        algorithm = algorithms.get(str(record.get("algorithm")))
        typed, _, found = algorithm.resolve_hyperparameters(dict(record.get("hyperparameters") or {}))
    except (algorithms.UnknownAlgorithm, TypeError, ValueError):
        return None
    if found:
        return None
    return algorithm.expected_feature_count(typed)


def job_ended(model: str, job: str, *, verb: str, reason: str, manifest: str, secondary: str) -> str:
    """A training job that failed or was stopped."""
    hint = failure_hint(secondary, reason)
    return (
        f"Training job {job} of model {model} {verb}.\n\n"
        f"Reason: {reason}\n"
        f"Manifest: {manifest}\n"
        + (f"Secondary status: {secondary}\n" if secondary else "")
        + "\nNothing was deployed; a model already in service keeps serving."
        + (f"\n{hint}" if hint else "")
        + "\nFix the cause and upload training.json again to train a new job."
    )


def trained(model: str, job: str, *, artifacts: str | None, metrics: Mapping[str, Any], manifest: Any) -> str:
    """A completed job whose manifest says ``deploy: false``."""
    return (
        f"Training job {job} of model {model} completed. The manifest says deploy: false, so no "
        f"endpoint was created.\n\nModel artifacts: {artifacts}\nMetrics: {metrics_text(metrics)}\n"
        f"Manifest: {manifest}"
    )


def gate_failed(
    model: str, job: str, *, verdict: str, metrics: Mapping[str, Any], manifest: Any, serving: str | None
) -> str:
    keeps = f"The model in service ({serving}) keeps serving." if serving else "No endpoint was created or changed."
    return (
        f"Training job {job} of model {model} completed but did not pass its quality gate, so it was "
        f"not deployed.\n\n{verdict}\n\nAll final metrics: {metrics_text(metrics)}\n"
        f"Manifest: {manifest}\n\n{keeps}\n"
        "Change the training (data, hyperparameters) or the gate in deploy.gate, then upload training.json again."
    )


def deploy_failed(model: str, job: str, message: str, *, pretrained: bool) -> str:
    what, again = (
        (f"the model brought trained as {job}", "model.tar.gz and deploy.json")
        if pretrained
        else (f"training job {job}", "training.json")
    )
    return (
        f"sagedrop could not put {what} of model {model} in service.\n\n{message}\n\n"
        f"A model already in service keeps serving. Fix the cause and upload {again} again."
    )


def in_service(model: str, job: str, endpoint: str, record: Mapping[str, Any], previous: str | None) -> str:
    settings = DeploySettings.from_dict(record["deploy"]) if record.get("deploy") else DeploySettings()
    hosting = record.get("hosting") or (
        "serverless" if settings.serverless is not None else f"{settings.instance_count} x {settings.instance_type}"
    )
    if record.get("source") == SOURCE_PRETRAINED:
        lines = [
            f"Model {model} now serves the model brought trained as {job} on endpoint {endpoint} ({hosting}).",
            "",
            f"Model archive: {record.get('archive') or record.get('model_data')} (from {record.get('manifest')})",
        ]
    else:
        lines = [
            f"Model {model} now serves training job {job} on endpoint {endpoint} ({hosting}).",
            "",
            f"Metrics: {metrics_text(record.get('metrics') or {})}",
        ]
    gate = record.get("gate") or {}
    if gate.get("metric"):
        lines.append(f"Gate: {gate['metric']} = {gate.get('value')} passed")
    if previous:
        lines.append(f"Previous model: {previous} (its endpoint config and model are kept for rollback)")
    lines.append(f"Predict: POST /models/{model}/predictions")
    return "\n".join(lines)


def replacement(release: Release, live: str) -> str:
    """An instance-based endpoint replaced by a serverless one (deleted, then created): the downtime, said."""
    model, job, endpoint = release.model, release.job, release.endpoint
    return (
        f"Model {model}: {job} asks for serverless hosting ({release.describe_hosting()}), but endpoint "
        f"{endpoint} serves {live} on instances. SageMaker cannot update an instance-based endpoint into "
        "a serverless one (AWS developer guide, serverless-endpoints, Feature exclusions), so sagedrop "
        f"deletes endpoint {endpoint} and creates it again with {job}.\n\n"
        f"Downtime: from now until the new endpoint is InService (usually a few minutes), model {model} "
        "serves no predictions; requests are answered as for a model being deployed (retry later).\n\n"
        "To switch without downtime, keep the hosting kind of the model in service (deploy.instance_type) "
        "or deploy the serverless model under another deploy.endpoint_name and move clients over."
    )
