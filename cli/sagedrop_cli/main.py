"""The `sagedrop` command: prepare, check, submit, status, predict, stop/start, and the local stack."""

from __future__ import annotations

import csv
import json
import mimetypes
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from sagedrop_cli.target import Target, TargetError
from sagedrop_client.api import ApiError

app = typer.Typer(
    name="sagedrop",
    help="Run SageMaker built-in algorithms from a folder: prepare data, submit, follow, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
prepare_app = typer.Typer(help="Turn raw data into what the algorithms read.", no_args_is_help=True)
local_app = typer.Typer(help="The local stack: the whole pipeline offline.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")
app.add_typer(local_app, name="local")

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 4096)
"""Piped or redirected, tables keep one line per row (rich would wrap them at 80 columns)."""

StackOption = Annotated[str | None, typer.Option("--stack", help="Deployed stack name (or SAGEDROP_STACK).")]
RegionOption = Annotated[str | None, typer.Option("--region", help="AWS region of the stack.")]
LocalOption = Annotated[bool, typer.Option("--local", help="Use the local stack (`sagedrop local up`).")]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", help="Usage plan key, when the stack asks for one (default: read from the stack)."),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--id-token", help="Cognito ID token (AuthMode=cognito; or SAGEDROP_ID_TOKEN)."),
]

TERMINAL = ("in_service", "failed", "stopped", "gate_failed", "rejected", "trained", "hibernated")


def fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def target_for(
    stack: str | None, region: str | None, local: bool, api_key: str | None = None, id_token: str | None = None
) -> Target:
    try:
        return Target.resolve(stack, region, local, api_key, id_token)
    except TargetError as exc:
        raise fail(str(exc)) from None


# ------------------------------------------------------------------ check and submit


@app.command()
def check(
    directory: Annotated[
        Path, typer.Argument(help="Folder with training.json and channel folders, or deploy.json and model.tar.gz.")
    ],
) -> None:
    """Validate a model folder with the functions' own checks, every problem at once (nothing is uploaded)."""
    from sagedrop.errors import UserError
    from sagedrop_cli.submit import check as check_folder

    try:
        manifest = check_folder(directory)
    except UserError as exc:
        raise fail(exc.describe() + "\nFix these and run `sagedrop check` again.") from None
    console.print(f"[green]ok[/]: {manifest.algorithm.name} model {manifest.name!r} is ready to submit")


@app.command()
def submit(
    directory: Annotated[
        Path, typer.Argument(help="Folder with training.json and channel folders, or deploy.json and model.tar.gz.")
    ],
    stack: StackOption = None,
    region: RegionOption = None,
    local: LocalOption = False,
    bucket: Annotated[str | None, typer.Option("--bucket", help="Data bucket (default: the stack's).")] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Key prefix above the model folder.")] = "",
) -> None:
    """Check DIR like the functions would, upload its data, then training.json or deploy.json (which starts it)."""
    from sagedrop.errors import UserError
    from sagedrop_cli import submit as submitting

    target = target_for(stack, region, local)
    s3 = target.client("s3")
    try:
        plan = submitting.plan(directory, bucket or target.bucket, prefix, s3)
    except UserError as exc:
        raise fail(exc.describe() + "\nNothing was uploaded. Fix these and submit again.") from None
    total = plan.total_bytes
    console.print(
        f"{plan.manifest.algorithm.name} model [bold]{plan.manifest.name}[/]: {len(plan.files)} files, "
        f"{submitting.human_bytes(total)} -> s3://{plan.bucket}/{plan.folder}"
    )
    with Progress(
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("upload", total=total)
        try:
            submitting.upload(plan, s3, lambda sent: progress.advance(task, sent))
        except Exception as exc:
            last = "deploy.json" if plan.brought else "training.json"
            raise fail(f"upload failed: {exc}. {last} goes last, so nothing started; submit again.") from None
    starts = "the deploy" if plan.brought else "training"
    console.print(f"[green]submitted[/]: {starts} starts now. Follow it: sagedrop status {plan.manifest.name} --watch")


# ------------------------------------------------------------------ status


def _registry(target: Target) -> Any:
    from sagedrop.registry import Registry

    return Registry(target.table, target.client("dynamodb"))


def _metrics_text(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return ""
    return ", ".join(
        f"{name}={value:.4g}" if isinstance(value, int | float) else f"{name}={value}"
        for name, value in sorted(metrics.items())
    )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _models_table(items: list[dict[str, Any]], width: int | None = None) -> Table:
    """One line per model. ``width``: the terminal's; the endpoint, metrics and last error columns share
    what the other columns leave, cut with an ellipsis (None: nothing is cut, e.g. when piped)."""
    table = Table(title="sagedrop models", expand=False)
    rows = []
    for item in sorted(items, key=lambda i: i.get("model", "")):
        error = (item.get("last_error") or "").splitlines()
        rows.append(
            [
                item.get("model", ""),
                item.get("status", ""),
                item.get("algorithm", ""),
                item.get("endpoint") or "",
                _metrics_text(item.get("metrics")),
                (item.get("updated_at") or "")[:19].replace("T", " "),
                (error[0][:80] + (" ..." if len(error) > 1 else "")) if error else "",
            ]
        )
    columns = ("model", "status", "algorithm", "endpoint", "metrics", "updated", "last error")
    if width is not None:
        fixed = sum(max([len(r[i]) for r in rows] + [len(columns[i])]) for i in (0, 1, 2, 5)) + 3 * len(columns) + 1
        budget = max(width - fixed, 3 * 2)
        shares = {3: budget * 25 // 100, 4: budget * 35 // 100, 6: budget * 40 // 100}
        rows = [[_cut(cell, shares[i]) if i in shares else cell for i, cell in enumerate(r)] for r in rows]
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _model_table(item: dict[str, Any]) -> Table:
    table = Table(title=f"model {item.get('model')}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key in sorted(item):
        if key in ("record",):
            continue
        value = item[key]
        text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        table.add_row(key, text)
    return table


@app.command()
def status(
    model: Annotated[str | None, typer.Argument(help="One model (default: all).")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Follow until the model settles.")] = False,
    stack: StackOption = None,
    region: RegionOption = None,
    local: LocalOption = False,
) -> None:
    """The registry: every model's status, or one model's details."""
    target = target_for(stack, region, local)
    registry = _registry(target)

    def render() -> tuple[Table, bool]:
        if model is None:
            items = list(registry.models())
            return _models_table(items, out.width if out.is_terminal else None), all(
                i.get("status") in TERMINAL for i in items
            )
        item = registry.get(model, consistent=True)
        if item is None:
            raise fail(f"no model {model!r} in {target.name}: `sagedrop status` lists them")
        return _model_table(item), item.get("status") in TERMINAL

    if not watch:
        out.print(render()[0])
        return
    with Live(render()[0], console=out, refresh_per_second=2) as live:
        while True:
            table, settled = render()
            live.update(table)
            if settled:
                return
            time.sleep(2)


# ------------------------------------------------------------------ predict


def _read_csv_rows(path: Path) -> list[str]:
    rows = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    if not rows:
        raise fail(f"{path} has no rows")
    return rows


def _batches(rows: list[str], max_rows: int, max_bytes: int) -> list[list[str]]:
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for row in rows:
        if current and (len(current) >= max_rows or size + len(row) + 1 > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(row)
        size += len(row) + 1
    if current:
        batches.append(current)
    return batches


def _write_predictions(predictions: list[dict[str, Any]], destination: Path | None) -> None:
    if destination is None:
        for prediction in predictions:
            out.print_json(json.dumps(prediction), indent=None)
        return
    if destination.suffix.lower() == ".csv":
        columns: list[str] = []
        for prediction in predictions:
            for key in prediction:
                if key not in columns:
                    columns.append(key)
        with destination.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for prediction in predictions:
                writer.writerow({k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in prediction.items()})
    else:
        destination.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    console.print(f"[green]wrote[/] {len(predictions)} predictions to {destination}")


@app.command()
def predict(
    model: Annotated[str, typer.Argument(help="Model name.")],
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Rows of features (no label, no header).")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help='{"instances": [...]} or JSON lines.')] = None,
    image: Annotated[list[Path] | None, typer.Option("--image", help="Image files (repeat).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write predictions to .csv or .jsonl.")] = None,
    batch_rows: Annotated[int, typer.Option("--batch-rows", min=1, help="Rows per API request.")] = 1000,
    stack: StackOption = None,
    region: RegionOption = None,
    local: LocalOption = False,
    api_key: KeyOption = None,
    id_token: TokenOption = None,
) -> None:
    """Call the prediction API with batching and progress; waits while a hibernated model wakes.

    Requests are signed with your AWS credentials (AuthMode=iam), or carry --id-token (cognito)."""
    chosen = [x for x in (csv_file, json_file, image) if x]
    if len(chosen) != 1:
        raise fail("give exactly one of --csv FILE, --json FILE or --image FILE (repeatable)", 2)
    target = target_for(stack, region, local, api_key, id_token)
    try:
        api = target.api()
    except TargetError as exc:
        raise fail(str(exc)) from None
    path = f"/models/{model}/predictions"

    def waiting(error: ApiError, seconds: float) -> None:
        console.print(f"[yellow]{error.message}[/] (retrying in {seconds:.0f} s)")

    requests: list[tuple[bytes, str, int]] = []
    if csv_file:
        for batch in _batches(_read_csv_rows(csv_file), batch_rows, 5 * 1024 * 1024):
            requests.append(("\n".join(batch).encode(), "text/csv", len(batch)))
    elif json_file:
        text = json_file.read_text()
        try:
            document = json.loads(text)
            instances = document["instances"] if isinstance(document, dict) else document
        except (ValueError, KeyError):
            try:
                instances = [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError as exc:
                raise fail(f'{json_file} is neither {{"instances": [...]}} nor JSON lines: {exc}') from None
        for start in range(0, len(instances), batch_rows):
            chunk = instances[start : start + batch_rows]
            requests.append((json.dumps({"instances": chunk}).encode(), "application/json", len(chunk)))
    else:
        for item in image or []:
            kind = mimetypes.guess_type(item.name)[0] or "application/x-image"
            requests.append((item.read_bytes(), kind, 1))

    predictions: list[dict[str, Any]] = []
    total = sum(count for _, _, count in requests)
    with Progress(
        TextColumn("predicting"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("predict", total=total)
        for body, content_type, count in requests:
            try:
                answer = api.request_waiting("POST", path, body, content_type, on_wait=waiting)
            except ApiError as exc:
                raise fail(f"{exc.code}: {exc.message}") from None
            predictions.extend(answer.get("predictions", []))
            progress.advance(task, count)
    _write_predictions(predictions, out_file)


# ------------------------------------------------------------------ stop / start


def _model_action(
    action: str,
    model: str,
    stack: str | None,
    region: str | None,
    local: bool,
    api_key: str | None,
    id_token: str | None,
) -> None:
    target = target_for(stack, region, local, api_key, id_token)
    try:
        answer = target.api().request("POST", f"/models/{model}/{action}")
    except (ApiError, TargetError) as exc:
        raise fail(str(exc)) from None
    console.print(json.dumps(answer, indent=2))


@app.command()
def stop(
    model: str,
    stack: StackOption = None,
    region: RegionOption = None,
    local: LocalOption = False,
    api_key: KeyOption = None,
    id_token: TokenOption = None,
) -> None:
    """Hibernate a model now: delete its endpoint, keep what is needed to wake it."""
    _model_action("stop", model, stack, region, local, api_key, id_token)


@app.command()
def start(
    model: str,
    stack: StackOption = None,
    region: RegionOption = None,
    local: LocalOption = False,
    api_key: KeyOption = None,
    id_token: TokenOption = None,
) -> None:
    """Wake a hibernated model: re-create its endpoint from the kept config."""
    _model_action("start", model, stack, region, local, api_key, id_token)


# ------------------------------------------------------------------ prepare


@prepare_app.command("recordio")
def prepare_recordio(
    source: Annotated[Path, typer.Argument(help="Headerless numeric CSV, label in the first column.")],
    destination: Annotated[Path, typer.Argument(help="Output .pbr file.")],
    no_label: Annotated[bool, typer.Option("--no-label", help="Every column is a feature (inference data).")] = False,
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float32",
) -> None:
    """CSV -> RecordIO-protobuf, byte for byte what the SageMaker SDK writes (streaming)."""
    from sagedrop import recordio

    try:
        with source.open(encoding="utf-8-sig") as src, destination.open("wb") as dst:
            stats = recordio.csv_to_recordio(src, dst, label_first=not no_label, dtype=dtype)
    except (recordio.CsvFormatError, ValueError) as exc:
        destination.unlink(missing_ok=True)
        raise fail(f"{source}: {exc}") from None
    label = "a label and " if stats.has_label else ""
    plural = "s" if stats.blank_lines != 1 else ""
    skipped = f" ({stats.blank_lines:,} blank line{plural} skipped)" if stats.blank_lines else ""
    console.print(
        f"[green]wrote[/] {destination}: {stats.rows:,} records, each with {label}{stats.feature_columns:,} "
        f"features, from {source}{skipped}"
    )


class _Bars:
    """The prepare tools' ``progress(phase, advance, total)`` callback as rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, phase: str, advance: int, total: int | None) -> None:
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(phase, total=total)
        self.progress.update(self.tasks[phase], advance=advance, total=total)


def _run_prepare(title: str, work: Any) -> Any:
    from sagedrop.errors import UserError

    with Progress(
        TextColumn(f"{title}: {{task.description}}"),
        BarColumn(),
        TextColumn("{task.completed}"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        try:
            return work(_Bars(progress))
        except UserError as exc:
            raise fail(exc.describe()) from None


def _suggest(fields: dict[str, Any], out_dir: Path) -> None:
    console.print(f"[green]done[/]. Put a training.json next to the channels in {out_dir}, e.g.:")
    out.print_json(json.dumps(fields))


@prepare_app.command("images")
def prepare_images(
    root: Annotated[Path, typer.Argument(help="Folder with one sub-folder of images per class.")],
    destination: Annotated[Path, typer.Argument(help="Model folder to write the channels into.")],
    resize: Annotated[int | None, typer.Option(help="Shorter side in pixels (im2rec --resize).")] = None,
    quality: Annotated[int, typer.Option(min=1, max=100, help="JPEG quality.")] = 95,
    validation_ratio: Annotated[float, typer.Option(help="Share of each class for validation.")] = 0.2,
    raw: Annotated[bool, typer.Option("--raw", help="Image files + .lst channels instead of .rec files.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
) -> None:
    """Images by class folder -> im2rec-compatible .lst/.rec channels for image-classification."""
    from sagedrop_client.prepare.images import prepare_images as run

    result = _run_prepare(
        "images",
        lambda bars: run(
            root,
            destination,
            layout="raw" if raw else "recordio",
            resize=resize,
            quality=quality,
            validation_ratio=validation_ratio,
            overwrite=overwrite,
            progress=bars,
        ),
    )
    console.print(result.summary())
    _suggest({"algorithm": "image-classification", **result.manifest_fields()}, destination)


@prepare_app.command("seq2seq")
def prepare_seq2seq(
    source: Annotated[Path, typer.Argument(help="Source sentences, one per line.")],
    target: Annotated[Path, typer.Argument(help="Target sentences, line by line aligned with the source.")],
    destination: Annotated[Path, typer.Argument(help="Model folder to write train/, validation/, vocab/.")],
    validation_source: Annotated[Path | None, typer.Option(help="Validation source sentences.")] = None,
    validation_target: Annotated[Path | None, typer.Option(help="Validation target sentences.")] = None,
    validation_ratio: Annotated[float | None, typer.Option(help="Or: share of the pairs for validation.")] = None,
    max_words: Annotated[int, typer.Option(help="Vocabulary size per side (besides the 4 specials).")] = 50000,
    min_count: Annotated[int, typer.Option(help="Drop tokens seen fewer times.")] = 1,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
) -> None:
    """Parallel corpus -> vocab.src.json, vocab.trg.json and RecordIO-protobuf records (create_vocab_proto.py)."""
    from sagedrop_client.prepare.seq2seq import prepare_seq2seq as run

    result = _run_prepare(
        "seq2seq",
        lambda bars: run(
            source,
            target,
            destination,
            validation_source=validation_source,
            validation_target=validation_target,
            validation_ratio=validation_ratio,
            max_words_source=max_words,
            max_words_target=max_words,
            min_count_source=min_count,
            min_count_target=min_count,
            overwrite=overwrite,
            progress=bars,
        ),
    )
    console.print(result.summary())
    _suggest({"algorithm": "seq2seq", "training": {"instance_type": "ml.g5.xlarge"}}, destination)


@prepare_app.command("text")
def prepare_text(
    inputs: Annotated[list[Path], typer.Argument(help="Raw text file(s); with --supervised one CSV.")],
    destination: Annotated[Path, typer.Option("--out", help="Model folder to write train/ (and validation/).")],
    supervised: Annotated[bool, typer.Option("--supervised", help="CSV of label,text -> __label__ lines.")] = False,
    header: Annotated[bool, typer.Option("--header", help="The CSV's first row names the columns.")] = False,
    validation_ratio: Annotated[float | None, typer.Option(help="Supervised: share for validation.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
) -> None:
    """Text for BlazingText: tokenized, lowercased sentences (word2vec) or __label__ lines (supervised)."""
    from sagedrop_client.prepare import text

    if supervised:
        if len(inputs) != 1:
            raise fail("--supervised takes exactly one CSV file", 2)
        result = _run_prepare(
            "text",
            lambda bars: text.prepare_supervised(
                inputs[0],
                destination,
                header=header,
                validation_ratio=validation_ratio,
                overwrite=overwrite,
                progress=bars,
            ),
        )
    else:
        result = _run_prepare(
            "text", lambda bars: text.prepare_word2vec(inputs, destination, overwrite=overwrite, progress=bars)
        )
    console.print(result.summary())
    _suggest(result.manifest_fields(), destination)


# ------------------------------------------------------------------ local stack


@local_app.command("up")
def local_up(
    port: Annotated[int, typer.Option(help="Port of the REST API.")] = 3000,
    aws_port: Annotated[int, typer.Option(help="Port of the emulated AWS endpoint.")] = 4566,
) -> None:
    """Run the local stack in the foreground: emulated AWS, the API on 127.0.0.1, real local training."""
    from sagedrop_local.__main__ import run_up

    run_up(api_port=port, moto_port=aws_port)


@local_app.command("demo")
def local_demo() -> None:
    """The scripted end-to-end run on real data (what `make demo` runs)."""
    from sagedrop_local.demo import main as demo_main

    sys.exit(demo_main())


# registers `score`, `batches`, `local env` and `local cleanup` on the app
from sagedrop_cli import batch_commands, local_commands  # noqa: E402,F401


def main() -> None:
    app()


__all__ = ["app", "main"]
