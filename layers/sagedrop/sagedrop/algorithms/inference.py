"""Inference: what the prediction API hands an algorithm, and what the algorithm hands back.

``request_content_types`` and ``inference_options`` say what a prediction request may carry,
``encode_request`` turns it into the InvokeEndpoint calls the algorithm's container takes
(:class:`InvokeRequest`, chunked to fit one call each), and ``decode_response`` turns each answer into
the uniform prediction dicts. :class:`InferenceCodec` holds the defaults and the shared checks;
``Algorithm`` mixes it in and each algorithm module overrides the codec.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sagedrop import codecs, row_text
from sagedrop.algorithms.params import ParamType
from sagedrop.errors import Problem

INSTANCE_ENDPOINT_MAX_BYTES = 6 * codecs.MB
"""InvokeEndpoint's request body limit (botocore's BodyBlob max: 6,291,456 bytes)."""
SERVERLESS_ENDPOINT_MAX_BYTES = 4_000_000
"""Serverless endpoints take at most 4 MB per request ("4 MB" in the docs: the decimal reading is
the safe one)."""


@dataclass(frozen=True)
class PredictionInput:
    """One prediction request as the API received it: JSON instances, or a raw body."""

    instances: Sequence[Any] | None = None
    """The ``instances`` list of a JSON request (None for a raw body)."""
    body: bytes | None = None
    """A raw body (``text/csv``, an image, ...), already base64-decoded."""
    content_type: str = "application/json"
    """The body's media type, lower case, without parameters."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Inference options: the JSON ``configuration`` object, or the query string for a raw body."""
    options_path: str = "$.configuration"
    """Where the options came from, for error messages."""
    json_body: bytes | None = None
    """The JSON body ``instances`` was parsed from (rows of numbers are sent with their own text:
    :mod:`sagedrop.row_text`)."""


@dataclass(frozen=True)
class ServingContext:
    """What the predict function knows about the model behind an endpoint."""

    labels: tuple[str, ...] | None = None
    """Class names from the manifest: ``labels[i]`` names class index ``i``."""
    feature_dim: int | None = None
    """Features per row, when the hyperparameters say (checked before anything is sent)."""
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    """The serving job's hyperparameters, typed (e.g. XGBoost's ``objective``)."""
    max_body_bytes: int = INSTANCE_ENDPOINT_MAX_BYTES
    max_rows: int = 500
    options: Mapping[str, Any] = field(default_factory=dict)
    """This request's inference options, checked and typed by :meth:`Algorithm.resolve_options`."""


@dataclass(frozen=True)
class InvokeRequest:
    """One InvokeEndpoint call: what to send, and how many predictions its answer must hold."""

    body: bytes
    content_type: str
    accept: str
    count: int
    first: int = 0
    """Index of the first instance the call covers (the answer's predictions start there)."""


@dataclass(frozen=True)
class InferenceOption:
    """A per-request inference option (e.g. BlazingText's ``k``)."""

    name: str
    type: ParamType
    description: str = ""


CSV = "text/csv"
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm")


def row_requests(
    payload: PredictionInput, ctx: ServingContext, *, accept: str, allow_missing: bool = False
) -> list[InvokeRequest]:
    """Rows of numbers (JSON instances, a ``text/csv`` or a libsvm body) as chunked CSV/libsvm calls.

    The tabular algorithms share this: each row is one line, a chunk holds at most ``ctx.max_rows``
    lines and ``ctx.max_body_bytes`` bytes, and ``ctx.feature_dim`` is checked when known.
    """
    if payload.body is None:
        instances = payload.instances
        if not isinstance(instances, list) or not instances:
            raise codecs.BadInput(
                Problem("$.instances", "expected a non-empty list of rows", 'send {"instances": [[1.5, 0, 3.2], ...]}')
            )
        lines = row_text.csv_lines(payload.json_body, instances, ctx.feature_dim)
        if lines is None:
            lines = codecs.rows_to_csv(instances, feature_dim=ctx.feature_dim, allow_missing=allow_missing)
        content_type, name_of = CSV, (lambda i: f"$.instances[{i}]")
    elif payload.content_type == CSV:
        lines = row_text.plain_csv_lines(payload.body, ctx.feature_dim)
        if lines is None:
            lines = codecs.csv_body_rows(payload.body, feature_dim=ctx.feature_dim, allow_missing=allow_missing)
        content_type, name_of = CSV, (lambda i: f"data row {i + 1} of the text/csv body")
    else:
        lines = codecs.libsvm_body_rows(payload.body, feature_dim=ctx.feature_dim)
        content_type, name_of = payload.content_type, (lambda i: f"data row {i + 1} of the libsvm body")
    chunks = codecs.chunk_sizes(
        list(map(len, lines)), max_bytes=ctx.max_body_bytes, max_rows=ctx.max_rows, name_of=name_of
    )
    return [InvokeRequest(codecs.join_lines(lines, c), content_type, accept, c.count, c.start) for c in chunks]


class InferenceCodec:
    """The prediction side of an algorithm (mixed into ``Algorithm``, whose ``name`` it reads)."""

    name: str
    request_content_types: tuple[str, ...] = ()
    """Raw request body types the API takes for this algorithm, besides JSON ``{"instances": [...]}``."""
    inference_options: tuple[InferenceOption, ...] = ()

    def encode_request(self, payload: PredictionInput, ctx: ServingContext) -> list[InvokeRequest]:
        """The InvokeEndpoint calls for one prediction request, in instance order. Override.

        Raises :class:`~sagedrop.codecs.BadInput` (naming the field, row or byte),
        :class:`~sagedrop.codecs.UnsupportedMediaType` or :class:`~sagedrop.codecs.PayloadTooLarge`.
        """
        raise codecs.UnsupportedMediaType(f"{self.name} models cannot be called through the prediction API")

    def decode_response(
        self, body: bytes, content_type: str, request: InvokeRequest, ctx: ServingContext
    ) -> list[dict[str, Any]]:
        """The predictions in one endpoint answer (``request.count`` of them). Override.

        Raises :class:`~sagedrop.codecs.BadModelResponse` for anything that is not the format.
        """
        raise codecs.BadModelResponse(f"{self.name} answers cannot be decoded")

    def resolve_options(self, given: Mapping[str, Any], path: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check and type a request's inference options; unknown names and bad values are 400s."""
        problems = codecs.ProblemList()
        typed: dict[str, Any] = {}
        known = {option.name: option for option in self.inference_options}
        for name, value in given.items():
            option = known.get(name)
            if option is None:
                if known:
                    close = difflib.get_close_matches(name, list(known), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else "options: " + ", ".join(known)
                else:
                    hint = f"{self.name} takes no options: remove it"
                problems.add(f"{path}.{name}", f"{self.name} has no inference option {name!r}", hint)
                continue
            try:
                typed[name], _ = option.type.convert(value)
            except ValueError as exc:
                problems.add(f"{path}.{name}", f"expected {option.type.expected}, {exc}", option.description)
        problems.raise_if_any()
        problem = self.check_options(typed, path, values)
        if problem:
            raise codecs.BadInput(problem)
        return typed

    def check_options(self, options: Mapping[str, Any], path: str, values: Mapping[str, Any]) -> Problem | None:
        """Option rules that depend on the model's hyperparameters (e.g. ``k`` is for classifiers)."""
        return None

    def check_media_type(self, payload: PredictionInput) -> None:
        """A raw body must be one of ``request_content_types``."""
        if payload.body is not None and payload.content_type not in self.request_content_types:
            accepted = ['application/json ({"instances": [...]})', *self.request_content_types]
            raise codecs.UnsupportedMediaType(
                f"{self.name} models do not take {payload.content_type or 'a body without Content-Type'}: "
                f"send {' or '.join(accepted)}"
            )

    def instances_of(self, payload: PredictionInput) -> Sequence[Any]:
        """The JSON instances, which must be a non-empty list."""
        instances = payload.instances
        if not isinstance(instances, list) or not instances:
            raise codecs.BadInput(
                Problem("$.instances", "expected a non-empty list of instances", 'send {"instances": [...]}')
            )
        return instances

    @staticmethod
    def label_for(index: int | None, ctx: ServingContext) -> str | None:
        """The class name of a class index, when the manifest gave labels."""
        if index is None or not ctx.labels or not 0 <= index < len(ctx.labels):
            return None
        return ctx.labels[index]

    def named(self, prediction: dict[str, Any], ctx: ServingContext) -> dict[str, Any]:
        """Add ``label`` (the class name) to a prediction whose ``predicted_label`` is a class index."""
        index = prediction.get("predicted_label")
        name = self.label_for(index if isinstance(index, int) and not isinstance(index, bool) else None, ctx)
        if name is not None:
            prediction["label"] = name
        return prediction
