"""Kubernetes quantities: parsing to exact decimals, canonical printing, rejection of bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raftkube.machinery.quantity import canonical_quantity, is_quantity, parse_quantity

BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10**3),
           "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15),
           "E": Decimal(10**18)}


@pytest.mark.parametrize(("text", "value"), [
    ("100m", Decimal("0.1")), ("128Mi", Decimal(128 * 2**20)), ("1Gi", Decimal(2**30)), ("0.5", Decimal("0.5")),
    ("1e3", Decimal(1000)), ("1E3", Decimal(1000)), ("1E", Decimal(10**18)), ("2k", Decimal(2000)),
    (".5", Decimal("0.5")), ("1.5Gi", Decimal(3 * 2**29)), ("+3", Decimal(3)), ("-1", Decimal(-1)),
    (2, Decimal(2)), (0.25, Decimal("0.25")), ("12e-3", Decimal("0.012")),
])
def test_parse_known_values(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1K", "1ki", "1e", "m", "Mi", "1.2.3", "1 Gi", "1Gb", "0x10", True])
def test_rejects_malformed(text: str) -> None:
    assert not is_quantity(text)
    with pytest.raises(ValueError, match="quantities must match the regular expression"):
        parse_quantity(text)


@pytest.mark.parametrize(("text", "canonical"), [
    ("0.5", "500m"), ("100m", "100m"), ("1000", "1k"), ("1500", "1500"), ("1.5", "1500m"), ("2000m", "2"),
    ("1.5Gi", "1536Mi"), ("0.5Gi", "512Mi"), ("1024", "1024"), ("1Ki", "1Ki"), ("1023Ki", "1023Ki"),
    ("129e6", "129e6"), ("0", "0"), ("0Mi", "0"), ("0.0000000001", "1n"), (1, "1"), (0.25, "250m"),
    ("512", "512"), ("100Mi", "100Mi"), ("1048576Ki", "1Gi"),
])
def test_canonical_form_matches_the_api_server(text: str, canonical: str) -> None:
    assert canonical_quantity(text) == canonical


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(BINARY)))
def test_binary_suffixes_scale_by_powers_of_two(n: int, suffix: str) -> None:
    assert parse_quantity(f"{n}{suffix}") == n * BINARY[suffix]


@given(st.integers(min_value=-(10**6), max_value=10**6), st.sampled_from(sorted(DECIMAL)))
def test_decimal_suffixes_scale_by_powers_of_ten(n: int, suffix: str) -> None:
    assert parse_quantity(f"{n}{suffix}") == n * DECIMAL[suffix]


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(sorted(BINARY) + sorted(DECIMAL)))
def test_canonical_form_keeps_the_value(n: int, suffix: str) -> None:
    text = f"{n}{suffix}"
    canonical = canonical_quantity(text)
    assert parse_quantity(canonical) == parse_quantity(text)
    assert canonical_quantity(canonical) == canonical  # idempotent


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**6), places=3, allow_nan=False))
def test_milli_precision_values_survive_printing(value: Decimal) -> None:
    assert parse_quantity(canonical_quantity(str(value))) == value


def test_ordering_between_binary_and_decimal_units() -> None:
    assert parse_quantity("1Gi") > parse_quantity("1G")
    assert parse_quantity("1500m") > parse_quantity("1")
    assert parse_quantity("1000Mi") < parse_quantity("1Gi")
