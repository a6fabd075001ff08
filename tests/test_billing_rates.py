from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from billing.rates import ModelRate, RatesError, load_rates, parse_rates

REPO_RATES = Path(__file__).resolve().parents[1] / "config" / "rates.toml"

CARD = """
[[email]]
effective = 2026-01-01
credits = "1"
[[email]]
effective = 2026-07-01
credits = "0.5"
[[sms]]
effective = 2026-01-01
credits = "2"
[[models]]
name = "gpt-4o-mini"
effective = 2026-01-01
input = "150"
cached_input = "75"
output = "600"
"""


def test_the_shipped_price_card_loads_with_every_model_priced() -> None:
    rates = load_rates(REPO_RATES)
    assert "gpt-4o-mini" in rates.models
    assert rates.email(date(2026, 11, 22)) == 1_000_000


def test_the_price_in_force_is_the_latest_whose_date_has_come() -> None:
    rates = parse_rates(CARD)
    assert rates.email(date(2026, 6, 30)) == 1_000_000
    assert rates.email(date(2026, 7, 1)) == 500_000
    with pytest.raises(RatesError, match="no email rate is in force on 2025-12-31"):
        rates.email(date(2025, 12, 31))


def test_ai_cost_charges_cached_tokens_at_the_cached_rate_and_rounds_up_once() -> None:
    rate = parse_rates(CARD).model("gpt-4o-mini", date(2026, 11, 22))
    assert rate == ModelRate(input=150_000_000, cached_input=75_000_000, output=600_000_000)
    # 1,000 prompt tokens of which 400 cached, 200 completion (reasoning included in them):
    # 600 x 150 + 400 x 75 + 200 x 600 = 240,000 credits per million tokens -> 240,000 micro-credits.
    assert rate.cost(prompt_tokens=1000, cached_tokens=400, completion_tokens=200) == 240_000
    assert rate.cost(prompt_tokens=1, cached_tokens=0, completion_tokens=0) == 150  # exact
    assert (
        parse_rates(CARD.replace('"150"', '"0.000001"')).model("gpt-4o-mini", date(2026, 1, 1)).cost(1, 0, 0)
        == 1
    )


def test_a_model_without_a_rate_is_an_error_never_free() -> None:
    with pytest.raises(RatesError, match="'gpt-5' has no rate"):
        parse_rates(CARD).model("gpt-5", date(2026, 11, 22))
    with pytest.raises(RatesError, match="output is missing"):
        parse_rates(CARD.replace('output = "600"\n', ""))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('credits = "2"', "credits = 2.5"), "decimal string"),
        (('credits = "2"', 'credits = "-1"'), ">= 0"),
        (('credits = "2"', 'credits = "0.0000001"'), "6 decimal places"),
        (('effective = 2026-01-01\ncredits = "2"', 'effective = "soon"\ncredits = "2"'), "give a date"),
        (("[[sms]]", "[[texts]]"), "unknown sections"),
    ],
)
def test_a_malformed_price_card_says_where(change: tuple[str, str], message: str) -> None:
    with pytest.raises(RatesError, match=message):
        parse_rates(CARD.replace(*change, 1))
