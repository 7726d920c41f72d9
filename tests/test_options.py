"""Option values are checked against the annotations of the function that takes them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from structloss import PluginHost, compose
from structloss.errors import ConfigError
from structloss.lab.settings import TrainSettings
from structloss.options import check_types, describe, matches


def factory(
    context: object,
    *,
    rate: float = 0.1,
    count: int = 1,
    flag: bool = False,
    mode: Literal["a", "b"] = "a",
    name: str = "x",
    weights: Sequence[float] | None = None,
    table: Mapping[str, str] | None = None,
    anything: Any = None,
) -> None:
    """A factory with one option of each kind of annotation."""


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("rate", 1),
        ("rate", 0.5),
        ("rate", np.float32(0.5)),
        ("count", 3),
        ("count", np.int64(3)),
        ("flag", True),
        ("mode", "b"),
        ("name", "y"),
        ("name", Path("tree.json")),
        ("weights", [1, 2.5]),
        ("weights", (1.0,)),
        ("weights", None),
        ("weights", torch.ones(3)),
        ("weights", np.ones(3)),
        ("table", {"a": "b"}),
        ("anything", object()),
    ],
)
def test_values_of_the_right_type_pass(option, value):
    check_types("loss 'x'", factory, {option: value})


@pytest.mark.parametrize(
    ("option", "value", "needs"),
    [
        ("rate", "0.1", "a number"),
        ("rate", True, "a number"),
        ("rate", float("nan"), "a number"),
        ("count", 1.5, "an integer"),
        ("count", "3", "an integer"),
        ("count", False, "an integer"),
        ("flag", 1, "true or false"),
        ("flag", "yes", "true or false"),
        ("mode", "c", "one of 'a', 'b'"),
        ("name", 3, "a string"),
        ("weights", "1,2", "a list of numbers"),
        ("weights", [1, "2"], "a list of numbers"),
        ("table", ["a"], "a table"),
    ],
)
def test_values_of_the_wrong_type_name_the_option_value_and_type(option, value, needs):
    with pytest.raises(ConfigError) as info:
        check_types("loss 'x'", factory, {option: value})
    message = str(info.value)
    assert f"loss 'x': option {option!r} must be {needs}" in message
    assert repr(value)[:20] in message


def test_a_quoted_number_says_to_drop_the_quotes():
    with pytest.raises(ConfigError, match="without quotes"):
        check_types("loss 'x'", factory, {"rate": "0.1"})


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.text(), st.booleans()))
def test_matches_agrees_with_the_meaning_of_float(value):
    expected = isinstance(value, int | float) and not isinstance(value, bool)
    assert matches(value, float) is expected


def test_describe_reads_well():
    assert describe(Sequence[float] | None) == "a list of numbers"  # None goes unsaid
    assert describe(int) == "an integer"


def test_compose_rejects_a_quoted_label_smoothing():
    host = PluginHost(entry_points=[], env={})
    config = {"classes": ["a", "b"], "loss": {"name": "cross-entropy", "label_smoothing": "0.1"}}
    with pytest.raises(ConfigError, match=r"'label_smoothing' must be a number, got '0.1'"):
        compose(config, host=host)


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"epochs": 1.5}, r"'epochs' must be an integer, got 1.5"),
        ({"lr": "fast"}, r"'lr' must be a number, got 'fast'"),
        ({"epochs": 0}, r"epochs must be >= 1, got 0"),
        ({"lr": 0.0}, r"lr must be > 0, got 0.0"),
        ({"lr": float("inf")}, r"lr must be > 0, got inf"),
        ({"weight_decay": -1.0}, r"weight_decay must be >= 0, got -1.0"),
        ({"batch_size": True}, r"'batch_size' must be an integer, got True"),
        ({"k": 0}, r"k must be >= 1, got 0"),
        ({"seed": -1}, r"seed must be >= 0, got -1"),
        ({"optimizer": "adamw"}, r"optimizer must be one of 'adam', 'sgd', got 'adamw'"),
        (
            {"distance": "bertineto"},
            r"\[train\] distance: unknown distance 'bertineto'; did you mean 'bertinetto'",
        ),
        ("fast", r"\[train\] must be a table"),
    ],
)
def test_train_settings_are_checked(table, match):
    with pytest.raises(ConfigError, match=match):
        TrainSettings.from_table(table)


def test_a_bad_constructor_option_is_one_error_class_caught_as_either_old_one():
    from structloss import Objective
    from structloss.errors import InputError, OptionError

    with pytest.raises(OptionError, match="num_classes must be a positive integer, got 0"):
        Objective(0)
    with pytest.raises(OptionError, match="unknown reduction 'avg'"):
        Objective(3, reduction="avg")
    assert issubclass(OptionError, ConfigError) and issubclass(OptionError, InputError)
    with pytest.raises(OptionError, match="'label_smoothing' must be a number"):
        check_types("loss 'x'", factory, {"rate": 0.1}) or compose(
            {"classes": ["a", "b"], "loss": {"name": "cross-entropy", "label_smoothing": "x"}},
            host=PluginHost(entry_points=[], env={}),
        )
