"""Surrogates: the GP's cached predictions equal BoTorch's posterior; ensembles of forests,
bagging, stacking and pipelines become posteriors; a contract every surrogate passes."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import make_column_transformer
from sklearn.ensemble import (
    BaggingRegressor,
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    RandomForestRegressor,
    StackingRegressor,
)
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from planner.active import PoolDesign, suggest
from planner.active._ensemble import fit_ensemble, member_predictions
from planner.active._gp import fit_gp
from planner.active._kernels import kernel_parts
from planner.active._surrogates import Points


@pytest.fixture(scope="module")
def agnp_xy(agnp_pool, agnp_inputs):
    obs = agnp_pool.sample(25, random_state=0)
    return obs[agnp_inputs], obs[["loss"]]


@pytest.mark.parametrize("kernel", ["matern", "additive"])
@pytest.mark.parametrize("m", [1, 2])
def test_gp_predictions_equal_the_botorch_posterior(agnp_pool, agnp_inputs, m, kernel):
    obs = agnp_pool.sample(30, random_state=1)
    X = obs[agnp_inputs].to_numpy()
    Y = np.column_stack([-obs["loss"].to_numpy(), obs[agnp_inputs[0]].to_numpy()])[:, :m]
    lower, upper = agnp_pool[agnp_inputs].min().to_numpy(), agnp_pool[agnp_inputs].max().to_numpy()
    gp = fit_gp(X, Y, lower, upper, kernel=kernel)
    if kernel == "matern":
        assert gp.name.startswith("GP (ARD Matern-5/2, ")
        assert gp.model.covar_module.lengthscale.shape[-1] == len(agnp_inputs)  # ARD
    else:
        assert gp.name.startswith("GP (ARD Matern-5/2 + additive Matern-5/2, ")
        parts = kernel_parts(gp.model.covar_module)
        assert parts.full_lengthscale.shape == parts.additive_lengthscale.shape == (m, len(agnp_inputs))  # ARD
        if m == 2:  # the joined model carries each output's own fit, not the priors' starting values
            assert not torch.allclose(parts.additive_lengthscale[0], parts.additive_lengthscale[1])
            assert not torch.allclose(parts.full_scale[0], parts.full_scale[1])
    C = agnp_pool[agnp_inputs].to_numpy()[:40]
    mean, var = gp.moments(Points(pd.DataFrame(), C))
    with torch.no_grad():
        post = gp.model.posterior(torch.as_tensor(C))
    np.testing.assert_allclose(mean, post.mean.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(var, post.variance.numpy(), rtol=1e-6, atol=1e-12)
    # Conditioning on a pending point removes most of its own variance.
    cvar = gp.conditional_variance(Points(pd.DataFrame(), C[:1]), Points(pd.DataFrame(), C[:1]))
    assert (cvar < var[:1] / gp.y_std**2).all()


@pytest.mark.parametrize(
    ("estimator", "n_members"),
    [
        pytest.param(RandomForestRegressor(n_estimators=30, random_state=0), 30, id="random-forest"),
        pytest.param(ExtraTreesRegressor(n_estimators=20, random_state=0), 20, id="extra-trees"),
        pytest.param(BaggingRegressor(Ridge(), n_estimators=12, random_state=0), 12, id="bagging"),
        pytest.param(
            make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=25, random_state=0)), 25, id="pipeline"
        ),
    ],
)
def test_ensembles_read_their_members(agnp_xy, estimator, n_members):
    X, y = agnp_xy
    fitted = estimator.fit(X, y["loss"])
    members = member_predictions(fitted, X)
    assert members.shape == (n_members, len(X))
    if not isinstance(fitted, BaggingRegressor):  # bagging of ridge averages the same way, forests exactly
        np.testing.assert_allclose(members.mean(axis=0), fitted.predict(X), rtol=1e-6)


def test_stacking_members_combine_the_base_ensembles(agnp_xy):
    X, y = agnp_xy
    stack = StackingRegressor(
        [("rf", RandomForestRegressor(n_estimators=10, random_state=0)), ("ridge", Ridge())],
        final_estimator=Ridge(),
        cv=3,
    ).fit(X, y["loss"])
    members = member_predictions(stack, X)
    assert members.shape == (10, len(X)) and members.std(axis=0).max() > 0


def test_voting_and_target_transformed_ensembles(agnp_xy):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import VotingRegressor

    X, y = agnp_xy
    vote = VotingRegressor([("rf", RandomForestRegressor(n_estimators=8, random_state=0)), ("ridge", Ridge())]).fit(
        X, y["loss"]
    )
    members = member_predictions(vote, X)
    assert members.shape == (8, len(X))
    np.testing.assert_allclose(members.mean(axis=0), vote.predict(X), rtol=1e-6)
    logged = TransformedTargetRegressor(
        RandomForestRegressor(n_estimators=6, random_state=0), func=np.log, inverse_func=np.exp
    ).fit(X, y["loss"])
    members = member_predictions(logged, X)
    assert members.shape == (6, len(X)) and (members > 0).all()
    np.testing.assert_allclose(np.exp(np.log(members).mean(axis=0)), logged.predict(X), rtol=1e-6)


def test_models_without_members_are_bootstrapped(agnp_xy):
    X, y = agnp_xy
    obs = Points(X, X.to_numpy())
    ens = fit_ensemble(
        GradientBoostingRegressor(n_estimators=20),
        obs,
        -y.to_numpy(),
        inputs=list(X.columns),
        features=list(X.columns),
        n_bootstrap=8,
    )
    assert ens.n_members == 8 and "bootstrap ensemble of 8 refits" in ens.notes[0]
    mean, var = ens.moments(obs)
    assert mean.shape == (len(X), 1) and (var > 0).all()


def test_fitted_estimator_used_as_given_keeps_the_direction(agnp_pool, agnp_inputs, agnp_xy):
    X, y = agnp_xy
    forest = RandomForestRegressor(n_estimators=40, random_state=0).fit(X, y["loss"])
    design = PoolDesign(agnp_pool[agnp_inputs])
    given = suggest(
        X, y, design=design, targets=[("loss", "min")], n=3, strategy="greedy", surrogate=forest, refit_surrogate=False
    )
    np.testing.assert_allclose(given.table["loss_mean"], forest.predict(given.table[agnp_inputs]), rtol=1e-6)
    # Greedy on a minimized target picks the lowest predicted losses of the whole pool.
    lowest = np.sort(forest.predict(design.candidates.drop(index=X.index)))[:3]
    np.testing.assert_allclose(np.sort(given.table["loss_mean"]), lowest, rtol=1e-6)


SURROGATES = [
    pytest.param("gp", id="gp"),
    pytest.param("gp-additive", id="gp-additive"),
    pytest.param("rf", id="rf"),
    pytest.param("et", id="et"),
    pytest.param(GradientBoostingRegressor(n_estimators=30, random_state=0), id="boosting-bootstrap"),
]


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("strategy", ["qlognei", "thompson", "qucb"])
def test_surrogate_contract(agnp_pool, agnp_inputs, agnp_xy, surrogate, strategy):
    """Every surrogate gives positive spreads, distinct new candidates and a model name."""
    X, y = agnp_xy
    result = suggest(
        X,
        y,
        design=PoolDesign(agnp_pool[agnp_inputs]),
        targets=[("loss", "min")],
        n=3,
        strategy=strategy,
        surrogate=surrogate,
        seed=0,
    )
    t = result.table
    assert t["candidate"].is_unique and not set(t["candidate"]) & set(X.index)
    assert (t["loss_std"] > 0).all() and np.isfinite(t["acquisition"]).all()
    assert result.metadata["model"]
    if surrogate == "gp-additive":
        assert "additive Matern-5/2" in result.metadata["model"]


def test_automl_style_pipeline_on_categorical_pool(redoxmers, redox_inputs):
    """A pipeline that one-hot encodes the raw substituent labels itself (sparse output)."""
    obs = redoxmers.sample(30, random_state=0)
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), redox_inputs)),
        RandomForestRegressor(n_estimators=30, random_state=0),
    )
    result = suggest(
        obs[redox_inputs],
        obs[["ered"]],
        design=PoolDesign(redoxmers[redox_inputs]),
        targets=[("ered", "min")],
        n=3,
        surrogate=pipe,
    )
    assert result.metadata["model"] == "ensemble (RandomForestRegressor; 30 members)"
    assert len(result) == 3


@pytest.mark.parametrize("surrogate", ["gp", "gp-additive", "rf"])
def test_conformal_intervals_cover_held_out_measurements(agnp_pool, agnp_inputs, surrogate):
    """Calibrated on 60 AgNP observations, 90% intervals cover most of the other 104 (the GPs'
    scores are cross-validation residuals with the hyperparameters refitted in each fold)."""
    obs = agnp_pool.sample(60, random_state=0)
    rest = agnp_pool.drop(index=obs.index)
    result = suggest(
        obs[agnp_inputs],
        obs[["loss"]],
        design=PoolDesign(rest[agnp_inputs]),
        targets=[("loss", "min")],
        n=len(rest),
        strategy="greedy",
        surrogate=surrogate,
        calibration=0.9,
    )
    t = result.table.set_index("candidate")
    truth = rest.loc[t.index, "loss"]
    coverage = float(((truth >= t["loss_lower"]) & (truth <= t["loss_upper"])).mean())
    assert coverage >= 0.8
    info = result.metadata["calibration"]["loss"]
    assert info["n_scores"] == 60 and info["quantile"] > 0
    with pytest.raises(Exception, match="calibration is a coverage between 0 and 1"):
        suggest(obs[agnp_inputs], obs[["loss"]], design=PoolDesign(rest[agnp_inputs]), targets="loss", calibration=90)


def test_large_observation_sets_fit_hyperparameters_on_a_subset(agnp_pool, agnp_inputs):
    X = agnp_pool[agnp_inputs].to_numpy()
    Y = -agnp_pool[["loss"]].to_numpy()
    lower, upper = X.min(axis=0), X.max(axis=0)
    gp = fit_gp(X, Y, lower, upper, max_fit_points=60)
    assert "fitted on a random 60 of the 164 observations" in gp.notes[0]
    assert gp.model.train_inputs[0].shape[-2] == 164  # conditions on all
    mean, _ = gp.moments(Points(pd.DataFrame(), X))
    assert np.corrcoef(mean[:, 0], Y[:, 0])[0, 1] > 0.9


def test_prefilter_bounds_variances_from_a_subset_and_keeps_means_exact():
    rng = np.random.default_rng(0)
    X = rng.random((400, 3))
    Y = np.column_stack([np.sin(3 * X).sum(axis=1), X[:, 0]]) + 0.05 * rng.standard_normal((400, 2))
    gp = fit_gp(X, Y, np.zeros(3), np.ones(3))
    C = Points(pd.DataFrame(), rng.random((3000, 3)))
    mean, var = gp.moments(C)
    bound_mean, bound_var = gp.prefilter_moments(C)
    np.testing.assert_allclose(bound_mean, mean, rtol=1e-9, atol=1e-9)
    assert (bound_var >= var * (1 - 1e-9)).all()
    # Through suggest: the shortlist is re-scored exactly, and the log says so.
    pool = pd.DataFrame(rng.random((5000, 3)), columns=["a", "b", "c"])
    obs = pd.DataFrame(X, columns=["a", "b", "c"])
    result = suggest(obs, pd.DataFrame({"y": Y[:, 0]}), design=PoolDesign(pool), targets="y", n=2, seed=0)
    assert any("the prefilter bounded the variances" in note for note in result.metadata["notes"])


def _auto_pick(f, n_obs):
    rng = np.random.default_rng(0)
    pool = pd.DataFrame(rng.uniform(size=(400, 3)), columns=["a", "b", "c"])
    obs = pool.sample(n_obs, random_state=1)
    result = suggest(obs, pd.DataFrame({"y": f(obs)}), design=PoolDesign(pool), targets=[("y", "max")], n=2, surrogate="auto", seed=0)
    notes = [n for n in result.metadata["notes"] if n.startswith("surrogate auto")]
    assert len(notes) == 1
    return result.metadata["model"], notes[0]


def test_auto_surrogate_picks_the_gp_for_a_smooth_response():
    model, note = _auto_pick(lambda X: np.sin(3 * X["a"]) + X["b"] ** 2, 60)
    assert model.startswith("GP") and note.startswith("surrogate auto: GP (held-out RMSE")


def test_auto_surrogate_picks_the_forest_for_axis_aligned_steps():
    model, note = _auto_pick(lambda X: (X["a"] > 0.5) * 3.0 + (X["c"] > 0.7) * 2.0, 120)
    assert model.startswith("ensemble (RandomForestRegressor") and note.startswith("surrogate auto: random forest")
    gp_err, rf_err = (float(x) for x in re.findall(r"(?:leave-one-out|out-of-bag) ([0-9.]+)", note))
    assert rf_err < gp_err


def test_auto_surrogate_leave_one_out_residuals_match_refits():
    """The closed-form GP residuals equal conditioning on all other rows (same hyperparameters)."""
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(15, 2))
    Y = (np.sin(4 * X[:, :1]) + 0.05 * rng.normal(size=(15, 1)))
    gp = fit_gp(X, Y, np.zeros(2), np.ones(2))
    with torch.no_grad():
        k_inv_diag = torch.diagonal(torch.cholesky_inverse(gp.chol), dim1=-2, dim2=-1)
        closed = (gp.alpha.squeeze(-1) / k_inv_diag).reshape(-1).numpy() * gp.y_std[0]
        model = gp.model
        Xt = model.train_inputs[0]  # normalized inputs the GP was conditioned on
        yt = model.train_targets
        K = model.covar_module(Xt).to_dense() + model.likelihood.noise * torch.eye(15, dtype=torch.float64)
        for i in range(15):
            keep = [j for j in range(15) if j != i]
            mu = model.mean_module(Xt[i : i + 1]) + K[i, keep] @ torch.linalg.solve(K[np.ix_(keep, keep)], yt[keep] - model.mean_module(Xt[keep]))
            assert closed[i] == pytest.approx(float(yt[i] - mu) * gp.y_std[0], rel=1e-6, abs=1e-9)


def test_an_automl_ensemble_of_forests_gives_combined_members(agnp_pool, agnp_inputs, agnp_xy):
    """A selected ensemble whose pipelines are forests reads its members; with a member lacking
    them (ridge) it is bootstrapped. Either way it drives suggestions."""
    from planner.automl import refit

    X, y = agnp_xy
    forest = {"imputer": "median", "fusion": "single", "model": "rf", "model.rf.n_estimators": 20}
    trees = {"imputer": "median", "fusion": "single", "model": "et", "model.et.n_estimators": 20}
    ridge = {"imputer": "median", "scaler": "standard", "fusion": "single", "model": "ridge"}
    for members, expected in (([forest, trees], 20), ([forest, ridge], None)):
        fitted = refit({"kind": "ensemble", "members": members, "weights": [0.7, 0.3]}, X, y["loss"], task="regression")
        table = member_predictions(fitted.estimator, X.head(7))
        if expected is None:
            assert table is None
        else:
            assert table.shape == (expected, 7)
            np.testing.assert_allclose(table.mean(axis=0), fitted.estimator.predict(X.head(7)), rtol=1e-10)
        result = suggest(X, y, design=PoolDesign(agnp_pool[agnp_inputs]), targets=[("loss", "min")], n=2, surrogate=fitted.estimator, seed=0)
        assert len(result) == 2 and (result.table["loss_std"] > 0).all()
