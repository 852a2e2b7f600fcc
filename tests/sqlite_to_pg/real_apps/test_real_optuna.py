"""Optuna, an application from PyPI that keeps its state in SQLite and also supports Postgres:
its ``RDBStorage`` makes its own schema on both backends (native enums on Postgres). Studies
and trials made on SQLite are moved, read back with Optuna's own API on both sides and
compared; then the studies go on optimising on Postgres (every sequence past its rows)."""

from __future__ import annotations

import math

import optuna
import pytest

from foundation.database_urls import sqlalchemy_url

pytestmark = pytest.mark.requires_pg


def _objective(trial):
    x = trial.suggest_float("x", -10, 10)
    step = trial.suggest_int("step", 1, 9, step=2)
    kind = trial.suggest_categorical("kind", ["a", "b", None, 1.5])
    lr = trial.suggest_float("lr", 1e-6, 1.0, log=True)
    trial.set_user_attr("note", f"trial {trial.number}: é\t\\")
    trial.report(float("inf") if trial.number == 1 else x * step, step=0)
    trial.report(float("nan"), step=1)
    if trial.number == 2:
        raise optuna.TrialPruned
    if trial.number == 3:
        raise ValueError("a failed trial")
    return (x - 2) ** 2 + lr + (0 if kind == "a" else 1)


def _two_objectives(trial):
    x = trial.suggest_float("x", 0, 1)
    return x, float("-inf") if trial.number == 0 else 1 - x


def _studies(storage) -> list[tuple]:
    """Every study with every trial, as Optuna reads them."""
    out = []
    for summary in sorted(optuna.get_all_study_summaries(storage), key=lambda s: s.study_name):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        trials = [(t.number, t.state, t.values, t.params, t.distributions, t.user_attrs,
                   t.system_attrs, {step: "nan" if math.isnan(v) else v
                                    for step, v in t.intermediate_values.items()},
                   t.datetime_start, t.datetime_complete)
                  for t in study.get_trials(deepcopy=False)]
        out.append((summary.study_name, study.directions, study.user_attrs, trials))
    return out


def test_optuna_studies_move_exactly(tmp_path, pg_url, move, pg_exec):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sqlite_url = f"sqlite:///{tmp_path / 'optuna.db'}"
    single = optuna.create_study(study_name="single", storage=sqlite_url,
                                 sampler=optuna.samplers.RandomSampler(seed=1))
    single.set_user_attr("owner", "Ärger")
    single.optimize(_objective, n_trials=12, catch=(ValueError,))
    multi = optuna.create_study(study_name="multi", storage=sqlite_url,
                                directions=["minimize", "maximize"],
                                sampler=optuna.samplers.RandomSampler(seed=2))
    multi.optimize(_two_objectives, n_trials=5)

    target_url = sqlalchemy_url(pg_url)
    optuna.storages.RDBStorage(target_url)  # Optuna makes its schema on Postgres
    assert pg_exec("SELECT count(*) FROM pg_type WHERE typtype = 'e'")[0][0] >= 2

    assert move(tmp_path / "optuna.db")  # both engines carry every type Optuna uses
    source = _studies(optuna.storages.RDBStorage(sqlite_url))
    target_storage = optuna.storages.RDBStorage(target_url)
    target = _studies(target_storage)
    assert [len(trials) for *_, trials in source] == [5, 12]
    assert target == source

    study = optuna.load_study(study_name="single", storage=target_storage,
                              sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(_objective, n_trials=2, catch=(ValueError,))
    assert len(study.trials) == 14
    optuna.create_study(study_name="third", storage=target_storage).optimize(
        lambda trial: trial.suggest_float("y", 0, 1), n_trials=1)
