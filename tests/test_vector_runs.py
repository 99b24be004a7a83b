"""The Gaussian chains and the Gaussian mixture, run through `collapse-lab run`, against theory.

Theory (lab/domains/vectors/theory.py): under replace, mean_log_variance has expectation (g +
1) delta and standard error sqrt((g + 1) omega^2 / chains); under accumulate, mean_variance has
an exact expectation that stays above a floor. Runs use fixed seeds, so each test is
deterministic; the tolerance of TOLERANCE standard errors is what makes it a test of the
formulas, and each test also checks that the formula of a wrong estimator or sample size lies
outside it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from lab.cli import main
from lab.domains.vectors import theory
from lab.rundir import faults
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE

TOLERANCE = 4.0  # standard errors
CHAINS = {
    "name": "chains",
    "generations": 30,
    "samples_per_generation": 5,
    "seed": 3,
    "regime": "replace",
    "data": {"name": "gaussian", "dim": 1},
    "model": {"kind": "gaussian", "chains": 4000, "estimator": "unbiased", "commit_every": 30},
}
# N = 250 rather than gmm.yaml's 1,000: a component's log spread drifts down about 4x faster
# per generation, so 200 generations show the shrinking well beyond its noise, and the
# accumulate run (EM on every point so far) takes a few seconds instead of about 20.
MIXTURE = {
    "name": "mixture",
    "generations": 200,
    "samples_per_generation": 250,
    "seed": 0,
    "regime": "replace",
    "data": {"name": "gmm"},
    "model": {"kind": "gmm", "commit_every": 100},
}


def _run(root: Path, base: dict, changes: dict, name: str = "run") -> Path:
    config = {**base, **changes}
    config["data"] = {**base["data"], **changes.get("data", {})}
    config["model"] = {**base["model"], **changes.get("model", {})}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    run_dir = root / name
    assert main(["run", str(path), "--run-dir", str(run_dir)]) == 0
    return run_dir


def _column(run_dir: Path, name: str) -> np.ndarray:
    with open(run_dir / METRICS_FILE) as handle:
        return np.array(
            [float(row[name]) if row[name] else np.nan for row in csv.DictReader(handle)]
        )


def _chain_log_variances(run_dir: Path) -> np.ndarray:
    """log variance [generation, chain] from the run's fits files."""
    files = sorted((run_dir / "fits").glob("*.npz"))
    return np.concatenate([np.load(f)["log_variance"].astype(np.float64) for f in files])


# (N, estimator, dim, chains, generations checked, alternatives that must fall outside the
# tolerance: (N, estimator, dim) of formulas that would be wrong for this run)
# Measured (seed 3): the largest distance from theory and the smallest of the alternatives'
# largest distances, in standard errors, against TOLERANCE 4, are above each case.
DRIFT_CASES = [
    # 1.82 from theory; the alternatives 26.0 and more
    (
        5,
        "unbiased",
        1,
        4000,
        [0, 4, 9, 19, 29],
        [(4, "unbiased", 1), (6, "unbiased", 1), (5, "mle", 1)],
    ),
    # 1.82 from theory; the alternatives 43.6 and more
    (5, "mle", 1, 4000, [0, 4, 9, 19, 29], [(4, "mle", 1), (6, "mle", 1), (5, "unbiased", 1)]),
    # 1.96 from theory; the alternatives 45.4 and more
    (
        6,
        "unbiased",
        2,
        4000,
        [0, 4, 9, 19, 29],
        [(5, "unbiased", 2), (7, "unbiased", 2), (6, "unbiased", 1)],
    ),
    # 2.80 from theory (margin 1.2); the alternative 29.6
    (100, "unbiased", 1, 1000, [9, 49, 99, 199], [(100, "mle", 1)]),
    # 2.80 from theory; the alternative 33.4
    (100, "mle", 1, 1000, [9, 49, 99, 199], [(100, "unbiased", 1)]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("samples", "estimator", "dim", "chains", "checked", "wrong"), DRIFT_CASES)
def test_log_variance_drifts_as_theory_says(
    tmp_path, samples, estimator, dim, chains, checked, wrong
) -> None:
    changes = {
        "generations": checked[-1] + 1,
        "samples_per_generation": samples,
        "data": {"dim": dim},
        "model": {"estimator": estimator, "chains": chains, "commit_every": checked[-1] + 1},
    }
    simulated = _column(_run(tmp_path, CHAINS, changes), "mean_log_variance")[checked]
    error = np.array(
        [theory.mean_log_variance_standard_error(g, samples, chains, dim) for g in checked]
    )

    def expected(n: int, how: str, d: int) -> np.ndarray:
        return np.array([theory.expected_mean_log_variance(g, n, how, d) for g in checked])

    distance = np.abs(simulated - expected(samples, estimator, dim)) / error
    assert (distance < TOLERANCE).all(), f"off theory by {distance.round(2)} standard errors"
    for alternative in wrong:
        off = np.abs(simulated - expected(*alternative)) / error
        assert off.max() > TOLERANCE, f"this run cannot tell {alternative} from the truth"


@pytest.mark.slow
def test_sampling_temperature_adds_its_drift_from_generation_1(tmp_path) -> None:
    """Samples drawn at temperature t scale every refit after generation 0 (which fits real
    data) by t^2: 2 log t more drift per generation."""
    samples, chains, temperature, checked = 10, 2000, 0.95, [0, 1, 5, 19]
    changes = {
        "generations": checked[-1] + 1,
        "samples_per_generation": samples,
        "sampling": {"temperature": temperature},
        "model": {"chains": chains, "commit_every": checked[-1] + 1},
    }
    simulated = _column(_run(tmp_path, CHAINS, changes), "mean_log_variance")[checked]
    error = np.array([theory.mean_log_variance_standard_error(g, samples, chains) for g in checked])

    expected = np.array(
        [theory.expected_mean_log_variance(g, samples, "unbiased", 1, temperature) for g in checked]
    )
    distance = np.abs(simulated - expected) / error
    # Seed 3: at most 1.6 standard errors from theory (margin 2.4); the two wrong drifts below
    # are 40.7 and 8.3 away at their farthest (twice the line and more).
    assert (distance < TOLERANCE).all(), f"off theory by {distance.round(2)} standard errors"
    # Neither ignoring the temperature nor applying it to generation 0 as well fits.
    drift = theory.log_variance_drift(samples, "unbiased")
    for step in (drift, drift + 2 * np.log(temperature)):
        wrong = (np.array(checked) + 1) * step
        assert (np.abs(simulated - wrong) / error).max() > TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_accumulate_keeps_the_variance_and_replace_loses_it(tmp_path, estimator) -> None:
    samples, generations = 10, 50
    changes = {
        "generations": generations,
        "samples_per_generation": samples,
        "model": {"estimator": estimator, "commit_every": 25},
    }
    kept = _run(tmp_path, CHAINS, {**changes, "regime": "accumulate"}, "accumulate")
    replaced = _run(tmp_path, CHAINS, changes, "replace")
    # Accumulate: mean_variance has an exact expectation (a convergent product above a floor).
    variances = np.exp(_chain_log_variances(kept))
    error = variances.std(axis=1, ddof=1) / np.sqrt(variances.shape[1])
    expected = np.array(
        [theory.expected_variance(g, samples, estimator, "accumulate") for g in range(generations)]
    )
    simulated = _column(kept, "mean_variance")
    # Seed 3: at most 1.45 (unbiased) and 1.39 (mle) standard errors off, against 4.
    assert (np.abs(simulated - expected) < TOLERANCE * error).all()
    floor = theory.accumulate_variance_floor(samples, estimator)
    assert (expected >= floor).all() and theory.expected_variance(
        5000, samples, estimator, "accumulate"
    ) >= floor
    # Replace: the expectation is ((N-1)/c)^(g+1) (1 for unbiased) while the log drifts down.
    early = range(3)
    replaced_variances = np.exp(_chain_log_variances(replaced))[list(early)]
    early_error = replaced_variances.std(axis=1, ddof=1) / np.sqrt(replaced_variances.shape[1])
    early_expected = [theory.expected_variance(g, samples, estimator, "replace") for g in early]
    # At most 1.65 standard errors off (both estimators), against 4.
    assert (np.abs(_column(replaced, "mean_variance")[:3] - early_expected) < 4 * early_error).all()
    # Separated as theory says: the median chain of replace is at e^(50 delta), below 0.01 of
    # the start (log variance ~ normal, sd sqrt(50) omega: 84% of chains under 0.1 unbiased,
    # 99% mle); accumulate's stays near the start, above the floor. Measured, unbiased then mle
    # (seed 3): theory -5.76 and -11.03 against log 0.01 = -4.61; replace's median variance
    # 0.0030 and 1.6e-5 against 0.02, collapsed 0.846 and 0.996 against 0.7 (margin 0.146 at
    # least); accumulate's median 0.798 against 0.743 and 0.724 against 0.668 (margins 0.055,
    # 0.056: about 7% of the value, many times the median's standard error over 4,000 chains),
    # collapsed 0.0015 and 0.0028 against 0.01.
    last = generations - 1
    assert theory.expected_mean_log_variance(last, samples, estimator) < np.log(0.01)
    assert _column(replaced, "median_variance")[-1] < 0.02
    assert _column(replaced, "fraction_collapsed")[-1] > 0.7
    assert _column(kept, "median_variance")[-1] > 0.8 * floor
    assert _column(kept, "fraction_collapsed")[-1] < 0.01


@pytest.fixture(scope="module")
def mixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mixtures")
    return {
        regime: _run(root, MIXTURE, {"regime": regime}, regime)
        for regime in ("replace", "accumulate")
    }


@pytest.mark.slow
def test_mixture_components_shrink_under_replace_and_not_under_accumulate(mixtures) -> None:
    for regime, run_dir in mixtures.items():
        for component in (0, 1):
            spread = _column(run_dir, f"std_{component}")
            ratio = spread / spread[0]
            # Seed 0: replace ends at 0.347 and 0.002 of the starting spread (against 0.5);
            # accumulate strays at most 0.058 and 0.101 from it (against 0.15, margin 0.049).
            if regime == "replace":
                living = ratio[~np.isnan(ratio)]
                assert living[-1] < 0.5, f"component {component} kept its spread: {living[-1]}"
            else:
                assert np.isfinite(ratio).all() and (np.abs(ratio - 1) < 0.15).all()
    assert (_column(mixtures["accumulate"], "weight_0") > 0.3).all()  # at least 0.497
    distance = {regime: _column(run, "l2_distance")[-1] for regime, run in mixtures.items()}
    # 0.830 against 3 x 0.056 = 0.168: 4.9 times the line.
    assert distance["replace"] > 3 * distance["accumulate"]


@pytest.mark.slow
def test_mixture_report_draws_the_density_at_the_asked_generations(mixtures) -> None:
    run_dir = mixtures["replace"]
    page = (run_dir / "report.html").read_text()
    assert 'src="plots/vector_density.png"' in page
    # model.plot_generations defaults to 0, 50, 100, 150, 200, 350, 2000; 200 runs reach 4.
    assert "at generations 0, 50, 100, 150 of model.plot_generations" in page
    with Image.open(run_dir / "plots/vector_density.png") as picture:
        panels = picture.width / (2.6 * 100)  # PANEL_INCHES at the report's DPI
    assert round(panels) == 5  # the real mixture, then the four generations


def test_chains_report_has_the_theory_curve(tmp_path) -> None:
    run_dir = _run(tmp_path, CHAINS, {"model": {"chains": 100}})
    page = (run_dir / "report.html").read_text()
    assert 'src="plots/vector_theory.png"' in page and 'src="plots/vector_chains.png"' in page


@pytest.mark.slow
@pytest.mark.parametrize(("base", "roles"), [(CHAINS, ["fits"]), (MIXTURE, ["fits", "samples"])])
def test_same_config_and_seed_give_identical_bytes(tmp_path, base, roles) -> None:
    changes = {"generations": 40, "model": {"commit_every": 16}}
    first = _run(tmp_path, base, changes, "first")
    second = _run(tmp_path, base, changes, "second")
    assert (first / METRICS_FILE).read_bytes() == (second / METRICS_FILE).read_bytes()
    for role in roles:
        names = sorted(p.name for p in (first / role).iterdir())
        assert names == ["gen_0000-0015.npz", "gen_0016-0031.npz", "gen_0032-0039.npz"]
        for name in names:
            assert (first / role / name).read_bytes() == (second / role / name).read_bytes()


@pytest.mark.parametrize(
    ("base", "changes", "words"),
    [
        (CHAINS, {"data": {"name": "mnist5k"}}, ("model.kind", "'gaussian'", "'mnist5k'")),
        (CHAINS, {"train": {"max_epochs": 1}}, ("'train'", "does not apply")),
        (
            CHAINS,
            {"regime": "fresh", "regime_options": {"fresh_fraction": 0.5}},
            ("'regime'", "'replace' or 'accumulate'"),
        ),
        (
            CHAINS,
            {"samples_per_generation": 2, "data": {"name": "gaussian", "dim": 2}},
            ("needs at least 3",),
        ),
        (MIXTURE, {"data": {"name": "gmm", "weights": [0.5, 0.4]}}, ("data.weights", "0.9")),
        (
            MIXTURE,
            {"data": {"name": "gmm", "means": [[0.0, 0.0]]}},
            ("data.means", "one per component"),
        ),
        (MIXTURE, {"model": {"kind": "gaussian"}}, ("model.kind", "use model.kind 'gmm'")),
    ],
)
def test_bad_vector_configs_get_one_sentence(tmp_path, capsys, base, changes, words) -> None:
    config = {**base, **changes}  # sections in `changes` replace the base's whole
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert main(["run", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "bad.yaml" in err, err
    for word in words:
        assert word in err, f"{word!r} missing from: {err}"


class _Stop(KeyboardInterrupt):
    """Raised at a fault point: the run records it and stops, as it would on Ctrl-C."""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("base", "regime", "stop_at"),
    [
        (CHAINS, "accumulate", "fitted:20"),
        (MIXTURE, "accumulate", "fitted:20"),
        (MIXTURE, "replace", f"wrote:{METRICS_FILE}:31"),
        ({**MIXTURE, "curate": {"kind": "class_balance"}}, "replace", "curated:20"),
        (
            {**MIXTURE, "curate": {"kind": "feature_density", "dedupe": True}},
            "accumulate",
            "curated:20",
        ),
        (
            {**MIXTURE, "curate": {"kind": "dedupe"}, "correct": {"strength": 0.5}},
            "accumulate",
            "fitted:20",
        ),
    ],
)
def test_a_stopped_run_resumes_to_the_same_bytes(tmp_path, monkeypatch, base, regime, stop_at):
    """Stopped inside the second block (or after its metrics.csv, before its manifest), a run
    resumes from the stored block files and ends byte-identical to one never stopped."""
    changes = {"generations": 40, "regime": regime, "model": {"commit_every": 16}}
    clean = _run(tmp_path, base, changes, "clean")

    def stop(point: str) -> None:
        if point == stop_at:
            raise _Stop

    with monkeypatch.context() as patch:
        patch.setattr(faults, "reached", stop)
        with pytest.raises(AssertionError):  # _run asserts exit code 0
            _run(tmp_path, base, changes, "stopped")
    stopped = tmp_path / "stopped"
    assert len(json.loads((stopped / MANIFEST_FILE).read_text())["generations"]) == 16
    _run(tmp_path, base, changes, "stopped")
    for relative in [METRICS_FILE, *(p.relative_to(clean) for p in clean.glob("*/gen_*.npz"))]:
        assert (stopped / relative).read_bytes() == (clean / relative).read_bytes(), relative
