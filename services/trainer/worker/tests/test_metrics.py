import math

import pytest

from pdfqa_trainer.metrics import exact_match, lcs_len, normalize, rouge_l, token_f1


@pytest.mark.parametrize(
    "pred,ref,f1",
    [
        ("$4.2 billion", "$4.2 billion", 1.0),
        ("The revenue was $4.2 billion.", "$4.2 billion", 2 * (2 / 4) * 1 / (2 / 4 + 1)),
        ("nothing", "$4.2 billion", 0.0),
        ("", "", 1.0),
        ("", "x", 0.0),
    ],
)
def test_token_f1(pred: str, ref: str, f1: float) -> None:
    assert math.isclose(token_f1(pred, ref), f1, rel_tol=1e-9)


def test_normalize_keeps_decimals_and_percent() -> None:
    assert normalize("The margin was 38.5%.") == "margin was 38.5%"
    assert exact_match("38.5%", "38.5 %") == 0.0
    assert exact_match("The Roadrunner line.", "roadrunner line") == 1.0


def test_rouge_l() -> None:
    assert lcs_len("a b c d".split(), "a c d".split()) == 3
    assert rouge_l("up 12% year over year", "12% year over year") == pytest.approx(2 * 1 * 0.8 / 1.8)
    assert rouge_l("x", "y") == 0.0
