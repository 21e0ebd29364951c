"""Hyperparameter value types: each turns a JSON value into (python value, SageMaker string) or raises
ValueError with a sentence saying what was expected. Algorithm modules declare their hyperparameters with
them (:class:`HyperParameter`); inference options reuse them."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any


class ParamType:
    """Base of the hyperparameter value types."""

    expected = "a value"

    def convert(self, value: Any) -> tuple[Any, str]:  # pragma: no cover - overridden
        raise NotImplementedError


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == "auto"


def _number(value: Any) -> float:
    """A JSON number or a numeric string; booleans are not numbers here."""
    if isinstance(value, bool):
        raise ValueError("got a boolean")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"got {value!r}") from None
    else:
        raise ValueError(f"got {type(value).__name__} {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"got {value!r}")
    return number


def _range_text(minimum: float | None, maximum: float | None, min_open: bool, max_open: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if min_open else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"{'<' if max_open else '<='} {maximum:g}")
    return " and ".join(parts)


def _check_range(number: float, minimum, maximum, min_open: bool, max_open: bool) -> bool:
    if minimum is not None and (number < minimum or (min_open and number == minimum)):
        return False
    return not (maximum is not None and (number > maximum or (max_open and number == maximum)))


@dataclass(frozen=True)
class Int(ParamType):
    minimum: int | None = None
    maximum: int | None = None
    auto: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        text = "an integer"
        bounds = _range_text(self.minimum, self.maximum, False, False)
        text = f"{text} {bounds}" if bounds else text
        return f'{text} or "auto"' if self.auto else text

    def convert(self, value: Any) -> tuple[Any, str]:
        if self.auto and _is_auto(value):
            return "auto", "auto"
        number = _number(value)
        if not number.is_integer():
            raise ValueError(f"got {value!r}, which is not a whole number")
        integer = int(number)
        if not _check_range(integer, self.minimum, self.maximum, False, False):
            raise ValueError(f"got {integer}")
        return integer, str(integer)


@dataclass(frozen=True)
class Float(ParamType):
    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False
    max_open: bool = False
    auto: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        text = "a number"
        bounds = _range_text(self.minimum, self.maximum, self.min_open, self.max_open)
        text = f"{text} {bounds}" if bounds else text
        return f'{text} or "auto"' if self.auto else text

    def convert(self, value: Any) -> tuple[Any, str]:
        if self.auto and _is_auto(value):
            return "auto", "auto"
        number = _number(value)
        if not _check_range(number, self.minimum, self.maximum, self.min_open, self.max_open):
            raise ValueError(f"got {number:g}")
        text = str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
        return number, text


@dataclass(frozen=True)
class Bool(ParamType):
    """A boolean, spelled on the wire as the algorithm's documentation spells it.

    ``style``: ``"lower"`` sends ``true``/``false``, ``"title"`` sends ``True``/``False`` (what the
    SageMaker SDK sends for Python booleans; BlazingText's page spells it so), ``"numeric"`` sends
    ``1``/``0``.
    """

    style: str = "lower"
    auto: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        text = "true or false" + (" (or 1/0)" if self.style == "numeric" else "")
        return f'{text} or "auto"' if self.auto else text

    def convert(self, value: Any) -> tuple[Any, str]:
        if self.auto and _is_auto(value):
            return "auto", "auto"
        if isinstance(value, bool):
            flag = value
        elif isinstance(value, int) and value in (0, 1):
            flag = bool(value)
        elif isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            flag = value.strip().lower() in ("true", "1")
        else:
            raise ValueError(f"got {value!r}")
        if self.style == "numeric":
            return flag, "1" if flag else "0"
        if self.style == "title":
            return flag, "True" if flag else "False"
        return flag, "true" if flag else "false"


@dataclass(frozen=True)
class Choice(ParamType):
    options: tuple[str, ...] = ()

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.options)

    def convert(self, value: Any) -> tuple[Any, str]:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(f"got {value!r}")
        text = str(value).strip()
        if text in self.options:
            return text, text
        close = difflib.get_close_matches(text, self.options, n=1)
        raise ValueError(f"got {value!r}" + (f"; did you mean {close[0]!r}?" if close else ""))


@dataclass(frozen=True)
class Text(ParamType):
    """A free string, optionally constrained by a regular expression described in words."""

    pattern: str | None = None
    description: str = "a string"

    @property
    def expected(self) -> str:  # type: ignore[override]
        return self.description

    def convert(self, value: Any) -> tuple[Any, str]:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"got {value!r}")
        text = str(value)
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            raise ValueError(f"got {value!r}")
        return text, text


@dataclass(frozen=True)
class IntList(ParamType):
    """Comma-separated integers such as ``image_shape`` ``3,224,224``; a JSON list is accepted too."""

    length: int | None = None
    minimum: int | None = None
    description: str = ""

    @property
    def expected(self) -> str:  # type: ignore[override]
        if self.description:
            return self.description
        count = f"{self.length} " if self.length else ""
        bound = f" each >= {self.minimum}" if self.minimum is not None else ""
        return f"{count}comma-separated integers{bound}"

    def convert(self, value: Any) -> tuple[Any, str]:
        if isinstance(value, list):
            items = value
        elif isinstance(value, str):
            items = [part.strip() for part in value.split(",")]
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [value]
        else:
            raise ValueError(f"got {value!r}")
        numbers = []
        for item in items:
            number = _number(item)
            if not number.is_integer() or (self.minimum is not None and number < self.minimum):
                raise ValueError(f"got {value!r}")
            numbers.append(int(number))
        if not numbers or (self.length is not None and len(numbers) != self.length):
            raise ValueError(f"got {value!r}")
        return tuple(numbers), ",".join(str(n) for n in numbers)


@dataclass(frozen=True)
class HyperParameter:
    name: str
    type: ParamType
    required: bool = False
    default: Any = None
    """For a required hyperparameter: the safe value sagedrop sends when the manifest omits it."""
