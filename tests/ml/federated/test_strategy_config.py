"""Strategies as typed configs: every bad setting refused with a message naming its key, frozen per-aggregator
dataclasses, and a registry that holds every strategy the documentation names."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from ml.federated.server_opt import OPTIMISERS
from ml.federated.sim import STRATEGIES
from ml.federated.strategy import (AGGREGATORS, DEFAULT_STRATEGY, ClientUpdate, Strategy, aggregate, parse_strategy,
                                   validate_strategy)
from ml.federated.strategy_config import (CenteredClipConfig, DistillConfig, MeanConfig, MultiKrumConfig,
                                          StrategyError, TrimmedMeanConfig)
from ml.federated.weights import WEIGHTINGS

ROOT = Path(__file__).resolve().parents[3]
OPTIMISER_MESSAGE = "Server optimiser needs eta > 0, tau > 0 and 0 <= beta1, beta2 < 1."

BAD = [
    ({"lr": 1}, "Unknown strategy keys: lr."),
    ({"aggregator": "best"}, "aggregator must be one of mean, median, trimmed_mean, krum, multikrum, centered_clip, "
                             "distill."),
    ({"weighting": "x"}, "weighting must be one of count, loss, error, uniform."),
    ({"server_opt": "sgd"}, "server_opt must be one of fedavg, fedavgm, fedadagrad, fedadam, fedyogi."),
    ({"tau": "a"}, "tau must be a number or null."),
    ({"server_lr": True}, "server_lr must be a number or null."),
    ({"beta1": "x"}, "beta1 must be a number or null."),
    ({"opt_tau": []}, "opt_tau must be a number or null."),
    ({"trim_beta": 0.7}, "trim_beta must be in [0, 0.5)."),
    ({"trim_beta": "x"}, "trim_beta must be in [0, 0.5)."),
    ({"trim_beta": None}, "trim_beta must be in [0, 0.5)."),
    ({"krum_f": -1}, "krum_f must be a non-negative integer."),
    ({"krum_m": 1.5}, "krum_m must be a non-negative integer."),
    ({"krum_f": True}, "krum_f must be a non-negative integer."),
    ({"distill_steps": 0}, "distill_steps must be a non-negative integer >= 1."),
    ({"distill_mix": "votes"}, "distill_mix must be 'logits' or 'probs'."),
    ({"norm_bound": "max"}, "norm_bound must be null, 'clip' or 'median'."),
    ({"cc_tau": -1}, "cc_tau must be a positive number or null."),
    ({"cc_tau": True}, "cc_tau must be a positive number or null."),
    ({"cc_iters": 0}, "cc_iters must be an integer in [1, 50]."),
    ({"cc_iters": 51}, "cc_iters must be an integer in [1, 50]."),
    ({"noise_multiplier": -1}, "noise_multiplier must be in [0, 100]."),
    ({"noise_multiplier": "x"}, "noise_multiplier must be in [0, 100]."),
    ({"server_lr": -1}, OPTIMISER_MESSAGE),
    ({"server_opt": "fedadam", "beta1": 1.0}, OPTIMISER_MESSAGE),
    ({"opt_tau": 0}, OPTIMISER_MESSAGE),
    # a key of another aggregator is checked too: a stored strategy never carries a bad value
    ({"aggregator": "krum", "trim_beta": 0.5}, "trim_beta must be in [0, 0.5)."),
    ({"aggregator": "distill", "cc_iters": 0}, "cc_iters must be an integer in [1, 50]."),
]


@pytest.mark.parametrize("config,message", BAD)
def test_each_bad_setting_is_refused_with_a_message_naming_it(config, message):
    with pytest.raises(ValueError) as caught:
        parse_strategy(config)
    assert str(caught.value) == message and isinstance(caught.value, StrategyError)
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_strategy(config)


def test_configs_are_frozen_and_check_themselves():
    with pytest.raises(StrategyError, match="trim_beta"):
        TrimmedMeanConfig(trim_beta=0.7)
    with pytest.raises(StrategyError, match="cc_iters"):
        CenteredClipConfig(cc_iters=0)
    with pytest.raises(StrategyError, match="MultiKrumConfig"):
        Strategy(aggregator="multikrum", config=MeanConfig())
    strategy = parse_strategy({"aggregator": "multikrum", "krum_f": 2, "krum_m": 0, "server_opt": "fedadam"})
    assert strategy.config == MultiKrumConfig(krum_f=2, krum_m=0) and strategy.server.server_opt == "fedadam"
    with pytest.raises(dataclasses.FrozenInstanceError):
        strategy.config.krum_f = 5  # type: ignore[misc]


def test_each_aggregator_reads_its_own_config():
    for name, entry in AGGREGATORS.items():
        strategy = parse_strategy({"aggregator": name})
        assert type(strategy.config) is entry.config
        assert dataclasses.is_dataclass(entry.config) and entry.config.__dataclass_params__.frozen
    assert parse_strategy({"aggregator": "distill", "tau": 0.5}).config == DistillConfig(tau=0.5)
    assert parse_strategy(None) == Strategy()


def test_the_json_form_keeps_its_keys_and_defaults():
    assert validate_strategy(None) == DEFAULT_STRATEGY == {
        "aggregator": "mean", "weighting": "count", "tau": None,
        "server_opt": "fedavg", "server_lr": None, "beta1": None, "beta2": None, "opt_tau": None,
        "trim_beta": 0.1, "krum_f": 1, "krum_m": 1,
        "noise_multiplier": 0.0, "adaptive_clip": False, "clip_quantile": 0.5, "clip_lr": 0.2,
        "distill_steps": 200, "distill_lr": 0.5, "distill_mix": "logits", "reinit_tol": 0.0,
        "norm_bound": None, "cc_tau": None, "cc_iters": 3}
    assert validate_strategy({"aggregator": "median"})["aggregator"] == "median"
    documented = re.findall(r'"(\w+)":', (ROOT / "ml/federated/strategy_config.py").read_text().split('"""')[1])
    assert set(documented) == set(DEFAULT_STRATEGY)


def test_every_simulation_preset_is_a_valid_strategy():
    for name, config in STRATEGIES.items():
        assert parse_strategy(config).aggregator in AGGREGATORS, name


def test_the_registry_lists_every_strategy_the_readme_names():
    text = (ROOT / "ml/federated/README.md").read_text()
    table = text.split("### Strategies", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:-1] for line in table.splitlines()[2:]]
    named = {re.search(r"`(\w+)`", cells[0]).group(1): re.search(r"`(\w+)`", cells[1]).group(1) for cells in rows}
    assert named == {name: entry.config.__name__ for name, entry in AGGREGATORS.items()}
    for option in (*OPTIMISERS, *WEIGHTINGS):
        assert f"`{option}`" in text, option


def test_a_strategy_object_aggregates_like_its_json_form():
    rng = np.random.default_rng(0)
    head = {"w": np.zeros(6, np.float32)}
    ups = [ClientUpdate({"w": rng.normal(size=6).astype(np.float32)}, 3, 1.0, 0.5) for _ in range(5)]
    config = {"aggregator": "trimmed_mean", "trim_beta": 0.2, "server_opt": "fedavgm"}
    a = aggregate(head, ups, config, clip_norm=1.0, rng=np.random.default_rng(1))
    b = aggregate(head, ups, parse_strategy(config), clip_norm=1.0, rng=np.random.default_rng(1))
    assert np.array_equal(a[0]["w"], b[0]["w"]) and a[2] == b[2]
