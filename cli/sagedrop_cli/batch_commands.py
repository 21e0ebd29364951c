"""The `score` and `batches` commands (registered on the main app; logic in sagedrop_cli.score)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sagedrop_cli.main import (
    LocalOption,
    RegionOption,
    StackOption,
    _registry,
    app,
    console,
    fail,
    local_app,
    out,
    target_for,
)


@app.command()
def score(
    path: Annotated[Path, typer.Argument(help="A file, or a folder of files, to score.")],
    model: Annotated[str, typer.Option("--model", help="The model to score with (in service or hibernated).")],
    watch: Annotated[bool, typer.Option("--watch", help="Follow the batch job to its end.")] = False,
    content_type: Annotated[str | None, typer.Option("--content-type", help="Default: from the extensions.")] = None,
    join: Annotated[bool, typer.Option("--join", help="Put each input row before its prediction.")] = False,
    instance_type: Annotated[str | None, typer.Option("--instance-type")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Batch folder name (default: batch-<time>).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds --watch waits.")] = 3600,
    stack: StackOption = None,
    region: RegionOption = None,
    local: LocalOption = False,
) -> None:
    """Upload PATH beside a batch.json: a batch transform job scores it (no endpoint is woken)."""
    from sagedrop.errors import UserError
    from sagedrop_cli import score as scoring

    target = target_for(stack, region, local)
    registry = _registry(target)
    settings = {"content_type": content_type, "join": join or None, "instance_type": instance_type}
    try:
        plan = scoring.plan(path, model, target.bucket, registry, settings, name)
    except UserError as exc:
        raise fail(exc.describe() + "\nNothing was uploaded.") from None
    scoring.upload(plan, target.client("s3"), console.print)
    if not watch:
        console.print(f"[green]submitted[/]: follow it with `sagedrop batches {model}`")
        return
    try:
        record = scoring.follow(plan, registry, timeout)
    except (UserError, TimeoutError) as exc:
        raise fail(exc.describe() if isinstance(exc, UserError) else str(exc)) from None
    if record.get("status") != "Completed":
        raise fail(f"batch {record.get('job')} {record.get('status')}: {record.get('failure_reason', '')}")
    out.print(
        f"batch {record['job']} completed in {record.get('duration_s', 0):.0f} s"
        + (f", {record['rows']:,} rows" if isinstance(record.get("rows"), int) else "")
        + f": predictions in {record['output']}"
    )


@app.command()
def batches(
    model: Annotated[str, typer.Argument(help="The model whose batch jobs to list.")],
    stack: StackOption = None,
    region: RegionOption = None,
    local: LocalOption = False,
) -> None:
    """The model's batch scoring jobs, newest first: status, files, where the predictions are."""
    target = target_for(stack, region, local)
    items = sorted(_registry(target).batches(model), key=lambda b: str(b.get("job")), reverse=True)
    table = Table(title=f"batches of {model}")
    for column in ("job", "status", "files", "rows", "duration", "output", "failure"):
        table.add_column(column, overflow="fold")
    for item in items:
        duration = f"{item['duration_s']:.0f} s" if item.get("duration_s") is not None else ""
        table.add_row(
            str(item.get("job")),
            str(item.get("status")),
            str(item.get("files", "")),
            f"{item['rows']:,}" if isinstance(item.get("rows"), int) else "",
            duration,
            str(item.get("output", "")),
            str(item.get("failure_reason", "")),
        )
    out.print(table if items else f"no batch jobs for {model}")


@local_app.command("env")
def local_env() -> None:
    """Print the exports that point the plain aws CLI (and boto3) at the running local stack."""
    from sagedrop_cli.target import Target, TargetError

    try:
        target = Target.from_local()
    except TargetError as exc:
        raise fail(str(exc)) from None
    key, secret = (
        (target.credentials.access_key, target.credentials.secret_key) if target.credentials else ("local", "local")
    )
    # AWS_ENDPOINT_URL: the global endpoint setting of the AWS CLI v2 and the SDKs
    # (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)
    for name, value in (
        ("AWS_ENDPOINT_URL", target.endpoint_url),
        ("AWS_REGION", target.region),
        ("AWS_DEFAULT_REGION", target.region),
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ):
        out.print(f"export {name}={value}", highlight=False, soft_wrap=True)
    console.print(f'# then: aws s3 ls s3://{target.bucket}/   (eval "$(sagedrop local env)" sets them)')
