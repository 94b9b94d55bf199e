"""Kubernetes resource quantities (`100m`, `128Mi`, `1Gi`, `0.5`, `1e3`): parse, compare, print.

`parse_quantity` gives an exact `Decimal`; `canonical_quantity` prints a quantity the way
the Kubernetes API server stores it (`0.5` -> `500m`, `1.5Gi` -> `1536Mi`, `1000` -> `1k`).
"""

from __future__ import annotations

import re
from decimal import ROUND_UP, Decimal, InvalidOperation, localcontext
from typing import Literal

Format = Literal["DecimalSI", "BinarySI", "DecimalExponent"]

QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
QUANTITY_ERROR = f"quantities must match the regular expression '{QUANTITY_PATTERN}'"

_RE = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                 r"(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE])?$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
_NANO = Decimal("1e-9")


def parse_quantity_format(text: str | int | float) -> tuple[Decimal, Format]:
    """(value, the format its suffix implies); raises ValueError with Kubernetes' message."""
    if isinstance(text, bool):
        raise ValueError(QUANTITY_ERROR)
    if isinstance(text, int | float):
        text = repr(text) if isinstance(text, float) else str(text)
        text = text.replace("e+", "e")
    if not isinstance(text, str):
        raise ValueError(QUANTITY_ERROR)
    match = _RE.match(text.strip())
    if not match:
        raise ValueError(QUANTITY_ERROR)
    number, suffix = match.group(1), match.group(2) or ""
    try:
        return _scaled(number, suffix)
    except InvalidOperation as exc:
        raise ValueError(QUANTITY_ERROR) from exc


def _scaled(number: str, suffix: str) -> tuple[Decimal, Format]:
    with localcontext() as ctx:
        ctx.prec = 200
        value = Decimal(number)
        if suffix in _BINARY:
            return value * (Decimal(2) ** _BINARY[suffix]), "BinarySI"
        if suffix in _DECIMAL:
            return value.scaleb(_DECIMAL[suffix]), "DecimalSI"
        exponent = int(suffix[1:])
        if abs(exponent) > 1000:
            raise ValueError(QUANTITY_ERROR)
        return value.scaleb(exponent), "DecimalExponent"


def parse_quantity(text: str | int | float) -> Decimal:
    """The exact value of a quantity: parse_quantity("100m") == Decimal("0.1")."""
    return parse_quantity_format(text)[0]


def is_quantity(text: object) -> bool:
    try:
        parse_quantity_format(text)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def format_quantity(value: Decimal, fmt: Format = "DecimalSI") -> str:
    """Print a value in canonical form; precision below 1n is rounded up, as Kubernetes does."""
    with localcontext() as ctx:
        ctx.prec = 200
        return _format(value, fmt)


def _format(value: Decimal, fmt: Format) -> str:
    value = value.quantize(_NANO, rounding=ROUND_UP) if value != value.to_integral_value() else value
    if value == 0:
        return "0"
    if fmt == "BinarySI" and abs(value) >= 1024 and value == value.to_integral_value():
        mantissa, power = int(value), 0
        while power < 6 and mantissa % 1024 == 0:
            mantissa //= 1024
            power += 1
        return f"{mantissa}{_BINARY_SUFFIX[power]}"
    sign = "-" if value < 0 else ""
    # mantissa * 10**exponent, exponent a multiple of 3, mantissa an integer, exponent as large as possible
    digits = abs(value).normalize()
    _, digit_tuple, exp = digits.as_tuple()
    assert isinstance(exp, int)
    mantissa = int("".join(map(str, digit_tuple)))
    exponent = exp
    shift = exponent % 3  # move down to a multiple of 3
    mantissa, exponent = mantissa * 10 ** shift, exponent - shift
    if fmt == "DecimalExponent":
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    if exponent > 18:
        mantissa, exponent = mantissa * 10 ** (exponent - 18), 18
    return f"{sign}{mantissa}{_DECIMAL_SUFFIX[exponent]}"


def canonical_quantity(text: str | int | float) -> str:
    """The string the API server would store for this quantity (raises ValueError if invalid)."""
    value, fmt = parse_quantity_format(text)
    return format_quantity(value, fmt)
