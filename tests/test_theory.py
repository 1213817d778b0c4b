"""The mean-field theory: quadrature against Monte Carlo and closed forms, the initializers'
variances against their own draws, the CLI, and the prediction beside real MNIST speeds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, optimize

from layerspeed import theory as th
from layerspeed.cli import main
from layerspeed.errors import BadInput
from layerspeed.nn.activations import ACTIVATIONS, get_activation
from layerspeed.nn.init import INITIALIZERS

SIGMOID = get_activation("sigmoid")


# ---- quadrature ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("q", [0.3, 1.3, 4.0])
def test_quadrature_matches_a_seeded_monte_carlo_within_its_standard_error(name, q):
    act = get_activation(name)
    z = np.sqrt(q) * np.random.default_rng(12345).standard_normal(400_000)
    for f in (lambda u: act.fn(u) ** 2, lambda u: act.prime(u) ** 2):
        samples = f(z)
        se = samples.std(ddof=1) / math.sqrt(samples.size)
        # 5 standard errors: a correct quadrature fails this about once in 3 million draws.
        assert abs(th.gauss_mean(f, q) - samples.mean()) <= 5 * se + 1e-12


def test_pair_expectation_matches_monte_carlo_and_its_two_ends():
    q, c = 1.3, 0.6
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((2, 400_000))
    u1, u2 = np.sqrt(q) * x, np.sqrt(q) * (c * x + math.sqrt(1 - c * c) * y)
    samples = SIGMOID.prime(u1) * SIGMOID.prime(u2)
    se = samples.std(ddof=1) / math.sqrt(samples.size)
    assert abs(th.gauss_mean_pair(SIGMOID.prime, q, c) - samples.mean()) <= 5 * se
    # c = 0: independent, E[f]^2; c = 1: the same variable, E[f^2].
    mean = th.gauss_mean(SIGMOID.prime, q)
    assert th.gauss_mean_pair(SIGMOID.prime, q, 0.0) == pytest.approx(mean**2, rel=1e-12)
    square = th.gauss_mean(lambda u: SIGMOID.prime(u) ** 2, q)
    assert th.gauss_mean_pair(SIGMOID.prime, q, 1.0) == pytest.approx(square, rel=1e-12)
    assert th.gauss_mean_pair(SIGMOID.prime, q, 0.999999) == pytest.approx(square, rel=1e-5)


def _quad_mean(f, q: float) -> float:
    """E[f(z)], z ~ N(0, q), by scipy's adaptive quad with break points where phi' has its bump."""
    s = math.sqrt(q)

    def integrand(z: float) -> float:
        return float(f(np.array(z))) * math.exp(-z * z / (2 * q)) / math.sqrt(2 * math.pi * q)

    points = [p for p in (-30.0, -10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 10.0, 30.0) if abs(p) < 13 * s]
    return integrate.quad(integrand, -13 * s, 13 * s, points=points, limit=500, epsrel=1e-12)[0]


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "scaled_sigmoid", "softplus", "relu"])
@pytest.mark.parametrize("q", [100.0, 1000.0])
def test_quadrature_at_a_large_variance_against_quad_and_monte_carlo(name, q):
    # At large q phi'(z)^2 is a bump of width ~1 in z, far narrower than the Gaussian: a fixed
    # Gauss-Hermite rule in z / sqrt(q) stepped over it (70% off for tanh at q = 100).
    act = get_activation(name)
    z = math.sqrt(q) * np.random.default_rng(2024).standard_normal(1_000_000)
    for f in (lambda u: act.prime(u) ** 2, lambda u: act.fn(u) ** 2):
        got = th.gauss_mean(f, q)
        assert got == pytest.approx(_quad_mean(f, q), rel=1e-9)
        samples = f(z)
        se = samples.std(ddof=1) / math.sqrt(samples.size)
        assert abs(got - samples.mean()) <= 5 * se


def test_pair_expectation_at_a_large_variance_matches_monte_carlo():
    q, c = 400.0, 0.9
    act = get_activation("tanh")
    x, y = np.random.default_rng(11).standard_normal((2, 1_000_000))
    u1, u2 = np.sqrt(q) * x, np.sqrt(q) * (c * x + math.sqrt(1 - c * c) * y)
    samples = act.prime(u1) * act.prime(u2)
    se = samples.std(ddof=1) / math.sqrt(samples.size)
    assert abs(th.gauss_mean_pair(act.prime, q, c) - samples.mean()) <= 5 * se


def test_quadrature_against_scipy_quad_for_the_sigmoid():
    q = 1.7

    def density(z: float) -> float:
        return math.exp(-z * z / (2 * q)) / math.sqrt(2 * math.pi * q)

    exact, _ = integrate.quad(lambda z: float(SIGMOID.fn(np.array(z))) ** 2 * density(z), -60, 60)
    assert th.gauss_mean(lambda u: SIGMOID.fn(u) ** 2, q) == pytest.approx(exact, rel=1e-10)


# ---- closed forms --------------------------------------------------------------------------


def test_identity_activation_has_chi_sigma_w2_and_q_star_from_a_geometric_series():
    # q = s_w2 q + s_b2 settles at s_b2 / (1 - s_w2); phi' = 1, so chi = s_w2.
    act = get_activation("identity")
    v = th.Variances(0.5, 1.0)
    assert th.fixed_point(act, v).q == pytest.approx(2.0, rel=1e-9)
    assert th.chi("identity", 0.5, 1.0) == pytest.approx(0.5, rel=1e-12)
    # s_w2 > 1: the variance grows without bound.
    assert th.fixed_point(act, th.Variances(1.5, 0.0)).q == math.inf


def test_relu_with_he_is_critical_and_relu_with_the_default_has_a_closed_form_q_star():
    # E[relu(z)^2] = q/2 and E[relu'(z)^2] = 1/2 for z ~ N(0, q).
    m = th.mean_field("relu", "he")
    assert (m.sigma_w2, m.sigma_b2) == (2.0, 0.0)
    assert m.chi == pytest.approx(1.0, abs=1e-12)
    assert m.factor == pytest.approx(1.0, abs=1e-12)
    d = th.mean_field("relu", "default")  # q = q/2 + 1: q* = 2, chi = 1/2
    assert d.q_star == pytest.approx(2.0, rel=1e-9)
    assert d.chi == pytest.approx(0.5, abs=1e-12)
    assert d.factor == pytest.approx(math.sqrt(2.0), rel=1e-12)


def test_tanh_without_biases_settles_at_zero_where_chi_is_sigma_w2():
    # tanh'(0) = 1, so chi at q* = 0 is sigma_w^2; at sigma_w^2 = 1 the map only creeps there.
    assert th.chi("tanh", 0.5, 0.0) == pytest.approx(0.5, rel=1e-9)
    critical = th.fixed_point(get_activation("tanh"), th.Variances(1.0, 0.0))
    assert critical.q == pytest.approx(0.0, abs=1e-9)
    assert th.chi("tanh", 1.0, 0.0) == pytest.approx(1.0, abs=1e-8)


def test_the_books_default_sigmoid():
    m = th.mean_field("sigmoid", "default")
    assert (m.sigma_w2, m.sigma_b2) == (1.0, 1.0)  # w ~ N(0, 1/n_in), b ~ N(0, 1)

    # An independent q*: scipy's quad for E[sigma(z)^2] and brentq for the fixed point.
    def gap(q: float) -> float:
        def integrand(z: float) -> float:
            dens = math.exp(-z * z / (2 * q)) / math.sqrt(2 * math.pi * q)
            return float(SIGMOID.fn(np.array(z))) ** 2 * dens

        return integrate.quad(integrand, -60, 60)[0] + 1.0 - q

    assert m.q_star == pytest.approx(optimize.brentq(gap, 1.0, 2.0), rel=1e-8)
    # sigma' <= 1/4 everywhere, so chi <= sigma_w^2/16 and the factor is above the book's 4.
    assert 0 < m.chi < 1 / 16
    assert m.factor is not None and m.factor > m.book_bound == 4.0
    assert m.factor == pytest.approx(1 / math.sqrt(m.chi))


def _seeded_chi(name: str, sigma_w2: float, sigma_b2: float) -> tuple[float, float]:
    """q* and chi by Monte Carlo alone: the q map iterated on one seeded sample."""
    act = get_activation(name)
    z = np.random.default_rng(99).standard_normal(1_000_000)
    q = 1.0
    for _ in range(300):
        q = sigma_w2 * float(np.mean(act.fn(math.sqrt(q) * z) ** 2)) + sigma_b2
    return q, sigma_w2 * float(np.mean(act.prime(math.sqrt(q) * z) ** 2))


@pytest.mark.parametrize(
    ("name", "init", "gain", "bias_gain", "width"),
    [
        ("tanh", "default", 30.0, 0.0, 30),  # q* ~ 900: was chi 0.001, "vanish"
        ("sigmoid", "large", 1.0, 1.0, 784),  # q* ~ 380: was chi 0.86, "vanish"
        ("tanh", "large", 1.0, 1.0, 30),  # q* ~ 26: was 6% off
    ],
)
def test_large_fixed_points_are_on_the_chaotic_side(name, init, gain, bias_gain, width):
    m = th.mean_field(name, init, gain=gain, bias_gain=bias_gain, width=width)
    assert m.q_star is not None and m.q_star > 20
    q_mc, chi_mc = _seeded_chi(name, m.sigma_w2, m.sigma_b2)
    assert m.q_star == pytest.approx(q_mc, rel=1e-2)
    assert m.chi == pytest.approx(chi_mc, rel=2e-2)
    act = get_activation(name)
    quad_chi = m.sigma_w2 * _quad_mean(lambda u: act.prime(u) ** 2, m.q_star)
    assert m.chi == pytest.approx(quad_chi, rel=1e-8)
    assert m.chi > 1


def test_a_bounded_activation_keeps_a_finite_fixed_point_at_the_largest_gain():
    # tanh: q* <= sigma_w^2 + sigma_b^2 however large the gain; relu's q grows without bound.
    t = th.mean_field("tanh", "large", gain=th.MAX_GAIN, width=784)
    assert t.q_star is not None and t.q_star <= t.sigma_w2 + t.sigma_b2
    assert t.q_star > th.Q_DIVERGED  # past the cut that unbounded activations get
    assert t.chi > 1 and t.factor is not None
    r = th.mean_field("relu", gain=th.MAX_GAIN)
    assert r.q_star is None and r.chi == pytest.approx(r.sigma_w2 / 2, rel=1e-12)
    assert (th.bound(get_activation("tanh")), th.bound(get_activation("relu"))) == (1.0, math.inf)


def test_chi_grows_with_the_gain():
    chis = [th.mean_field("sigmoid", "default", gain=g).chi for g in (0.5, 1.0, 2.0, 4.0)]
    assert chis == sorted(chis) and len(set(chis)) == 4


# ---- the initializers' variances -----------------------------------------------------------


@pytest.mark.parametrize("init", list(INITIALIZERS))
@pytest.mark.parametrize(("n_in", "n_out"), [(30, 30), (784, 30), (30, 10)])
def test_variances_agree_with_the_initializers_own_draws(init, n_in, n_out):
    gain = 1.5
    v = th.init_variances(init, n_in, n_out, gain=gain)
    rng = np.random.default_rng(2024)
    draws = [INITIALIZERS[init](rng, n_in, n_out, gain) for _ in range(max(1, 40_000 // n_in))]
    w2 = np.concatenate([n_in * w.ravel() ** 2 for w, _ in draws])  # each an estimate of s_w2
    b2 = np.concatenate([b**2 for _, b in draws])
    se_w = w2.std(ddof=1) / math.sqrt(w2.size)
    assert abs(w2.mean() - v.sigma_w2) <= 5 * se_w + 1e-9
    se_b = b2.std(ddof=1) / math.sqrt(b2.size)
    assert abs(b2.mean() - v.sigma_b2) <= 5 * se_b + 1e-12


def test_bias_gain_scales_only_biases_that_are_drawn():
    assert th.init_variances("default", bias_gain=0.5).sigma_b2 == pytest.approx(0.25)
    assert th.init_variances("he", bias_gain=3.0).sigma_b2 == 0.0


# ---- a network from its input ----------------------------------------------------------------


def test_a_network_started_at_the_fixed_point_stays_there():
    m = th.mean_field("sigmoid", "default")
    assert m.q_star is not None
    # q^1 = 1 * m2 + 1 = q* when the pixels' mean square is q* - 1.
    p = th.network_prediction("sigmoid", "default", [30, 30, 30, 30, 10], m.q_star - 1.0)
    assert p.q == pytest.approx([m.q_star] * 3, rel=1e-9)
    assert p.factors == pytest.approx([m.factor] * 2, rel=1e-9)


def test_the_first_layer_starts_from_the_pixels_not_the_fixed_point():
    p = th.network_prediction("sigmoid", "default", [784, 30, 30, 30, 10], 0.1)
    assert p.q[0] == pytest.approx(1.1)  # sigma_w^2 * 0.1 + sigma_b^2
    assert p.q[0] < p.q[1] < p.q[2]  # rising towards q* = 1.30
    # A smaller q means z nearer 0, where sigma' is largest: the first pair's factor is smaller.
    assert p.factors[0] is not None and p.factors[1] is not None
    assert p.factors[0] < p.factors[1]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: th.mean_field("cubic"), "unknown activation 'cubic'"),
        (lambda: th.mean_field("sigmoid", "lecun"), "unknown initializer 'lecun'"),
        (lambda: th.mean_field(gain=-1.0), "gain must be a number from 0 to 1,000,000"),
        (lambda: th.mean_field(bias_gain=math.nan), "bias gain must be a number from 0"),
        (lambda: th.mean_field(gain=1e200), r"gain must be .*, got 1e\+200"),
        (lambda: th.mean_field(bias_gain=math.inf), "bias gain must be a number from 0"),
        (lambda: th.chi("tanh", -1.0, 0.0), "sigma_w^2 must be a finite number >= 0"),
        (lambda: th.gauss_mean(np.square, -1.0), "variance must be finite and non-negative"),
        (lambda: th.network_prediction("sigmoid", "default", [784, 10], 0.1), "no hidden layer"),
    ],
)
def test_bad_input_says_what_is_wrong(call, message):
    with pytest.raises(BadInput, match=message.replace("^", r"\^")):
        call()


# ---- the command line ----------------------------------------------------------------------


def test_cli_json_gives_the_libraries_numbers(capsys):
    assert main(["theory", "--activation", "tanh", "--init", "xavier_normal", "--gain", "1.2",
                 "--json"]) == 0  # fmt: skip
    got = json.loads(capsys.readouterr().out)
    want = th.mean_field("tanh", "xavier_normal", gain=1.2).to_dict()
    assert got == pytest.approx(want)
    assert got["chi"] > 1  # a gain above 1 without biases: the chaotic side


def test_cli_phase_of_a_large_fixed_point_and_a_huge_gain_is_one_line(capsys):
    assert main(["theory", "--activation", "tanh", "--gain", "30", "--bias-gain", "0",
                 "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["chi"] > 1
    assert main(["theory", "--activation", "sigmoid", "--init", "large", "--width", "784"]) == 0
    assert "explode" in capsys.readouterr().out
    for option in ("--gain", "--bias-gain"):
        assert main(["theory", option, "1e200"]) == 2
        err = capsys.readouterr().err
        assert "must be a number from 0 to 1,000,000" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


def test_cli_all_lists_every_pair_and_a_bad_name_exits_2(capsys):
    assert main(["theory", "--all", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["activation"], r["init"]) for r in rows} == {
        (a, i) for a in ACTIVATIONS for i in INITIALIZERS
    }
    assert main(["theory", "--init", "lecun"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown initializer 'lecun'" in err


def test_cli_table(capsys):
    assert main(["theory"]) == 0
    out = capsys.readouterr().out
    assert "sigmoid" in out and f"{th.mean_field().chi:.3g}" in out


# ---- beside the measurement: the chapter's initial study on real MNIST ---------------------


@pytest.fixture(scope="module")
def chapter_theory():
    from dataclasses import replace

    from layerspeed.experiments.datasets import load_data
    from layerspeed.experiments.driver import RunRecord, Task
    from layerspeed.experiments.grid import load_preset
    from layerspeed.experiments.run import train_run
    from layerspeed.experiments.theory_check import aggregate_theory

    study = next(s for s in load_preset("chapter").studies if s.name == "initial")
    study = replace(study, seeds=tuple(range(20)))  # the preset's own count
    points = study.points()
    data = load_data([p.config for p in points], offline=True)
    records = []
    for p in points:
        for seed in study.seeds:
            result = train_run(p.config, seed, data).to_dict(p.config, seed, "initial")
            task = Task("initial", p.label, p.params, p.config, seed, "")
            records.append(RunRecord(task, "done", None, result))
    return aggregate_theory(study, records, data)


@pytest.mark.mnist
def test_done_when_the_prediction_is_within_15_percent_past_the_first_hidden_layer(
    chapter_theory,
):
    part = chapter_theory
    assert 0.05 < part["input_second_moment"] < 0.2  # MNIST's mean x^2 is about 0.11
    later = [p for r in part["rows"] for p in r["pairs"] if not p["includes_first"]]
    assert len(later) == 0 + 1 + 2  # [784,30,30,10] has none; 3 and 4 hidden layers 1 and 2
    for pair in later:
        assert abs(pair["relative_error"]) <= 0.15, pair
        # The per-example norms, which the theory speaks of, agree as well as the book's norm
        # of the mean over the probe images.
        assert abs(pair["relative_error_per_example"]) <= 0.15, pair
    assert part["check"]["holds"] is True
    assert part["check"]["worst_relative_error"] <= 0.15


@pytest.mark.mnist
def test_the_first_pair_and_the_books_bound_on_mnist(chapter_theory):
    for row in chapter_theory["rows"]:
        first = row["pairs"][0]
        assert first["includes_first"]
        # Measured: the first hidden layer sits below the fixed point (q^1 = 1 + m2 < q*) and
        # the prediction from the pixels says so: its factor is the smallest of the row.
        assert row["q"][0] < row["q"][-1]
        assert first["predicted"] == min(row["predicted"])
        assert abs(first["relative_error"]) <= 0.15
        # The book's bound of 4 per layer holds for the median of every pair.
        assert all(p["measured"]["median"] > 4.0 for p in row["pairs"])


# ---- the views, on a part built from seeded speeds (no MNIST) ------------------------------


def _part(later_factor: float | None = None):
    """A theory part for [784,30,30,30,10] from seeded speeds whose factors scatter around the
    mean-field ones; ``later_factor`` replaces the true factor of the pair 2 -> 3."""
    from layerspeed.experiments.config import RunConfig
    from layerspeed.experiments.theory_check import TOLERANCE, check, theory_row

    config = RunConfig((784, 30, 30, 30, 10), epochs=0, n_train=1000, record=("speeds",))
    pred = th.network_prediction("sigmoid", "default", config.sizes, 0.11)
    factors = [pred.factors[0], later_factor or pred.factors[1]]
    rng = np.random.default_rng(3)
    last = 0.3 * np.exp(0.1 * rng.standard_normal(12))  # (seed,)
    f = np.array(factors) * np.exp(0.1 * rng.standard_normal((12, 2)))  # (seed, pair)
    speeds = np.stack([last / f[:, 1] / f[:, 0], last / f[:, 1], last], axis=1)  # (seed, 3)
    row = theory_row(config, config.label, speeds, speeds * 1.01, 0.11)
    return {
        "title": "t",
        "study": "initial",
        "tolerance": TOLERANCE,
        "input_second_moment": 0.11,
        "mean_field": th.mean_field().to_dict(),
        "rows": [row],
        "check": check([row]),
    }, speeds


def test_theory_row_sets_the_median_ratio_beside_the_prediction():
    part, speeds = _part()
    pairs = part["rows"][0]["pairs"]
    assert [p["pair"] for p in pairs] == [[1, 2], [2, 3]]
    for l, p in enumerate(pairs):
        median = float(np.median(speeds[:, l + 1] / speeds[:, l]))
        assert p["measured"]["median"] == pytest.approx(median)
        assert p["relative_error"] == pytest.approx((p["predicted"] - median) / median)
        assert p["within"] == (abs(p["relative_error"]) <= 0.15)
    assert part["check"]["holds"] is True and part["check"]["n_pairs"] == 1
    # The prediction line is anchored at the last layer and falls by each predicted factor.
    line = part["rows"][0]["predicted_speeds"]
    assert line[-1] == pytest.approx(float(np.median(speeds[:, -1])))
    assert line[-1] / line[-2] == pytest.approx(pairs[1]["predicted"])


def test_a_later_pair_off_by_more_than_15_percent_fails_the_check_and_the_words_say_so():
    from layerspeed.views.text.theory import theory_markdown

    part, _ = _part(later_factor=8.0)
    assert part["check"]["holds"] is False
    text = theory_markdown(part)
    assert "does not hold" in text
    assert text.count("| [784,30,30,30,10] |") == 2  # one table row per pair
    assert "| no |" in text


def test_markdown_figures_and_page_of_the_theory():
    from layerspeed.views.figures.render import spec
    from layerspeed.views.figures.theory import theory_figures
    from layerspeed.views.report import to_html
    from layerspeed.views.text.theory import theory_markdown

    part, _ = _part()
    text = theory_markdown(part)
    assert "prediction holds" in text and "MNIST pixels" in text
    figs = theory_figures(part)
    assert list(figs) == ["theory_784-30-30-30-10"]
    drawn = spec(figs["theory_784-30-30-30-10"])
    values = (drawn.get("data") or drawn["layer"][0]["data"])["values"]
    line = part["rows"][0]["predicted_speeds"]
    assert [v["predicted"] for v in values] == pytest.approx(line, rel=1e-3)  # 4 digits kept
    page = to_html({"theory": part})
    assert 'id="theory"' in page and "theory-784-30-30-30-10" in page
    assert "The theory beside the measurement" in page


def test_order_to_chaos_rings_the_smallest_spread_of_each_activation():
    from layerspeed.views.figures.render import spec
    from layerspeed.views.figures.theory import order_to_chaos

    rows = [
        {"activation": a, "gain": g, "bias_gain": 0.0, "chi": th.chi(a, g * g, 0.0)}
        | {"median": m, "low": m / 2, "high": m * 2}
        for a, g, m in [("tanh", 0.5, 80.0), ("tanh", 1.0, 1.5), ("tanh", 2.0, 9.0),
                        ("sigmoid", 2.0, 300.0), ("sigmoid", 4.0, 40.0)]
    ]  # fmt: skip
    layers = spec(order_to_chaos(rows))["layer"]
    assert layers[0]["data"]["values"] == [{"chi": 1.0}]  # the critical line
    ringed = {(v["activation"], v["gain"]) for v in layers[-1]["data"]["values"]}
    assert ringed == {("tanh", 1.0), ("sigmoid", 4.0)}


def test_chaos_rows_put_chi_beside_each_sweep_points_spread():
    from layerspeed.experiments.theory_check import chaos_rows

    summary = {
        "config": {"base": {"depth": 10, "width": 30, "init": "default"}},
        "points": [
            {"label": "a", "params": {"activation": "tanh", "gain": 1.5, "bias_gain": 0.0},
             "spread_initial": {"values": [3.0, 1.0, 2.0, 5.0]}},
            {"label": "b", "params": {"activation": "sigmoid", "gain": 1.0, "bias_gain": 1.0},
             "spread_initial": {"values": [400.0]}},
            {"label": "c", "params": {"activation": "sigmoid", "gain": 2.0, "bias_gain": 1.0},
             "spread_initial": None},
        ],
    }  # fmt: skip
    rows = chaos_rows(summary)
    assert [r["label"] for r in rows] == ["a", "b"]  # c was not measured
    assert rows[0]["chi"] == pytest.approx(th.chi("tanh", 1.5**2, 0.0))
    assert rows[1]["chi"] == pytest.approx(th.mean_field().chi)  # the book's network
    assert rows[0]["median"] == 2.5 and rows[0]["low"] < 2.5 < rows[0]["high"]
    assert rows[0]["n_runs"] == 4
    # 9 steps between 10 hidden layers, each a factor 1/sqrt(chi): 4.5 |log10 chi| decades.
    assert rows[1]["predicted_spread"] == pytest.approx(4.5 * abs(math.log10(rows[1]["chi"])))


@pytest.mark.mnist
def test_reproduce_writes_the_theory_beside_the_initial_speeds(tmp_path):
    from layerspeed.pipeline import reproduce

    done = reproduce(tmp_path, quick=True, remedies=False, workers=1, offline=True)
    part = done.summary["theory"]
    initial = done.summary["initial"]
    assert [r["label"] for r in part["rows"]] == [r["label"] for r in initial["rows"]]
    for t, i in zip(part["rows"], initial["rows"], strict=True):
        assert t["n_runs"] == i["n_runs"] > 0
        assert t["speeds"]["median"] == pytest.approx(i["median"])  # the same runs
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["theory"]["check"] == part["check"]
    assert "## The theory beside the measurement" in (tmp_path / "summary.md").read_text()
    for r in part["rows"]:
        assert (tmp_path / "figures" / f"theory_{r['label']}.png").stat().st_size > 0
    assert 'id="theory"' in (tmp_path / "report.html").read_text()


def test_the_table_never_prints_a_chi_of_1_beside_a_phase_that_is_not_critical(capsys):
    assert main(["theory", "--all"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    rows = [r for r in rows if len(r) == 8 and r[-1] in ("vanish", "explode", "critical")]
    assert len(rows) >= 40  # every activation x initializer
    for r in rows:
        chi = float(r[5])
        assert r[-1] == "critical" or chi != 1.0, r
        assert r[4] != "9.09e-13", r  # a decayed variance reads 0
    leaky_he = next(r for r in rows if r[:2] == ["leaky_relu", "he"])
    assert leaky_he[-1] == "explode" and float(leaky_he[5]) > 1
