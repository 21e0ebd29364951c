"""From a finished training job to the model behind its endpoint, without ever losing a newer model.

``Deployer`` is what the deploy function runs for two EventBridge events:

* ``SageMaker Training Job State Change`` (Completed, Failed, Stopped) of a job this stack started.
  The event is only a hint: the job is always described again (the event may lack artifacts and
  metrics, and SageMaker may send several events for one change) and its ``sagedrop:stack`` tag is
  checked again, so another stack's job is never touched.

  - Failed/Stopped: the job record and the model summary keep the status and ``FailureReason``;
    an SNS message says which job, why, and which manifest started it.
  - Completed with ``deploy: false``: status ``trained``.
  - Completed: the gate (:mod:`sagedrop.gate`). A failed gate deploys nothing (``gate_failed``,
    with the figures). A passed gate creates the SageMaker model and endpoint config (named after
    the job, tagged; network isolation for instance hosting only), then creates the endpoint, or
    updates it when it is InService (SageMaker's blue/green update keeps the old model serving until
    the new fleet is healthy), or deletes a Failed endpoint and creates it again. An instance-based
    endpoint that must serve a serverless model is replaced (deleted, then created), with the
    downtime announced: SageMaker refuses that UpdateEndpoint (:mod:`.rollout`).

* ``SageMaker Endpoint State Change`` (InService, Failed) of an endpoint this stack created: the
  model whose config is now live is recorded as in service (and announced); a newer job that was
  waiting because the endpoint was Creating or Updating is applied now; a failed update or a
  Failed endpoint is recorded and announced, and the newest good model is put back.

* A model brought trained (``model.tar.gz`` + ``deploy.json``, checked and recorded by
  :mod:`sagedrop.pretrained` as a ``JOB#<release>`` record with ``source: pretrained``):
  :meth:`Deployer.on_pretrained` hosts it like a completed job that passed its gate; there is no
  training job to describe, the record carries the model data URL.

Newest wins: job names sort by the time of the drop that started them (``naming.job_name``).
The summary's ``pending_job`` holds the newest passed job that should end up in service; it only
ever moves forward (conditional writes), and a job older than ``pending_job`` or ``serving_job``
is ``superseded``, so a late event of an older job never rolls back a newer one.
``deploying_job`` is the job whose config was last sent to Create/UpdateEndpoint: when the
endpoint returns to InService with another config, that rollout did not take.

Every step tolerates its own earlier success (duplicate events are harmless), user-fixable
problems are recorded and notified (never raised), and throttling/5xx from AWS propagate so that
Lambda retries the event.

The package, one concern a module: :mod:`.context` (DeployContext, Outcome, the job record's statuses),
:mod:`.events` (the Deployer: the three entry points and the gate), :mod:`.job_ends` (failed, stopped,
trained only, gate failed), :mod:`.release` (what hosting a job needs), :mod:`.rollout` (claim,
create/update/re-create), :mod:`.settle` (what an endpoint's state means), :mod:`.ledger` (guarded
registry transitions, deploy failed), :mod:`.messages` (the texts).
AWS errors are classified by :mod:`sagedrop.aws_errors`.
"""

from __future__ import annotations

from .context import (
    BUSY,
    ENDPOINT_STATE_CHANGE,
    JOB_COMPLETED,
    JOB_DEPLOY_FAILED,
    JOB_DEPLOYED,
    JOB_DEPLOYING,
    JOB_DONE,
    JOB_FAILED,
    JOB_GATE_FAILED,
    JOB_PENDING,
    JOB_STOPPED,
    JOB_SUPERSEDED,
    JOB_TRAINED,
    JOB_TRAINING,
    MAX_FOLLOW,
    SOURCE_PRETRAINED,
    TRAINING_JOB_STATE_CHANGE,
    UPDATABLE,
    DeployContext,
    EndpointBusy,
    Outcome,
)
from .events import Deployer

__all__ = [
    "BUSY",
    "ENDPOINT_STATE_CHANGE",
    "JOB_COMPLETED",
    "JOB_DEPLOYED",
    "JOB_DEPLOYING",
    "JOB_DEPLOY_FAILED",
    "JOB_DONE",
    "JOB_FAILED",
    "JOB_GATE_FAILED",
    "JOB_PENDING",
    "JOB_STOPPED",
    "JOB_SUPERSEDED",
    "JOB_TRAINED",
    "JOB_TRAINING",
    "MAX_FOLLOW",
    "SOURCE_PRETRAINED",
    "TRAINING_JOB_STATE_CHANGE",
    "UPDATABLE",
    "DeployContext",
    "Deployer",
    "EndpointBusy",
    "Outcome",
]
