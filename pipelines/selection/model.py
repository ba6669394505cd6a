"""A multivariate Fay–Herriot model of kommune indicator scores over the years of a window.

Per kommune ``j``, indicator ``k`` and school year ``t`` the standardised score is

    z_jkt = η_jk + u_jkt + e_jkt

- ``η_j``: the kommune's persistent level over the window, the same every year. By default
  (``[holistic] estimand = "kommune_and_schools"``) it includes the persistent effects of the kommune's
  schools: the kommune is the school owner and answers for its schools, and a kommune whose one school
  is weak is a kommune whose pupils need support, whatever the cause. Under ``"kommune_only"`` (a
  policy choice like the area weights) the schools' persistent effects are error of the persistent
  level, ``a_j ~ N(0, H_j ∘ S)``, the same every year (``Panel.persistent_error``): ``S`` the persistent
  covariance of one school's effects between indicators, ``H_j`` the products of the schools' pupil
  shares (``pipelines/selection/holistic.py`` estimates both from the school figures).
  Between kommuner ``η_j ~ N(μ, Σ + P_j)``, with the covariance ``Σ`` between indicators estimated from the
  data, so that one indicator informs another and a suppressed indicator is filled from the others with a
  wider uncertainty. ``P_j = H_j ∘ S`` (``Panel.persistent_prior``) when the schools' persistent effects
  are part of the estimand: a kommune whose pupils are in one school can be as far from the others as
  that school is, a city hardly, so a small kommune is shrunk less than a common Σ would shrink it.
- ``u_jt``: the transient kommune-year component (a cohort, a staff change, one school's bad year), shared
  between indicators of the same year: covariance ``U + H_j·G``, where ``H_j`` is the concentration of the
  kommune's pupils in few schools (Σ shares², 1 for a one-school kommune), because one school's bad year
  moves a one-school kommune's figure fully and a city's hardly at all.
- ``e_jt``: the pupils' sampling error, standard errors known from the exports, correlated between
  indicators measured on the same pupils (``C``, a correlation matrix).

``U``, ``G`` and ``C`` are estimated from each kommune's deviations from its own window mean (those contain
the transient and sampling parts, not ``η``) by weighted least squares; ``μ`` and ``Σ`` by the method of
moments on the window means, less their error covariance and the mean ``P_j``. Matrices are projected
onto the positive semi-definite cone; with few units (the fylkeskommuner) only variances are estimated.
What the selection ranks is a composite of ``η`` (``pipelines/selection/holistic.py``): per area the
average of its indicators' persistent levels, on their between-kommune SD. Reading and arithmetic, grade
5 at barneskoler and grade 8 at ungdomsskoler, scale points and shares below a cut-off each carry a
persistent part of their own; all of it is the kommune's (its schools, its pupils), so it is part of
the area's quality, and the composite's posterior is exact given the model: ``wᵀη`` with variance
``wᵀ V_j w``.
The uncertainty of the estimated parameters reaches the posterior through a parametric bootstrap:
data are simulated from the fitted model, everything is re-estimated, and the posterior of the real data is
computed under each re-estimate (Fay & Herriot 1979; Datta, Day & Basawa 1999 for the multivariate form).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# A variance that stands for "not observed": conditioning on a figure with this error variance is, to
# numerical precision, not conditioning on it.
UNOBSERVED = 1e8
# Below this many units, covariances between indicators are not estimated (too few to estimate a matrix).
MIN_UNITS_FOR_COVARIANCE = 50
EIGEN_FLOOR = 1e-9


@dataclass(frozen=True)
class Panel:
    """Scores as arrays: ``z`` and ``sampling_sd`` are [unit, indicator, year], NaN where missing."""

    z: np.ndarray
    sampling_sd: np.ndarray
    concentration: np.ndarray  # [unit] Σ (school share)²; 0 where unknown
    # [unit, indicator, indicator] error of the persistent level itself, the same every year (the schools'
    # persistent effects when they are not part of the estimand); None: none.
    persistent_error: np.ndarray | None = None
    # [unit, indicator, indicator] the part of the persistent level's between-kommune covariance that is
    # the unit's own (the schools' persistent effects when they are part of the estimand); None: none.
    persistent_prior: np.ndarray | None = None

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.z)

    @property
    def years_observed(self) -> np.ndarray:
        """[unit, indicator] number of years with a figure."""
        return self.observed.sum(axis=2)

    @property
    def window_mean(self) -> np.ndarray:
        """[unit, indicator] mean over the years with a figure; 0 where none (never used as data)."""
        counts = self.years_observed
        total = np.where(self.observed, self.z, 0.0).sum(axis=2)
        return np.divide(total, counts, out=np.zeros_like(total), where=counts > 0)


@dataclass(frozen=True)
class NoiseModel:
    """The year-to-year noise around a kommune's persistent level: R_jt = U + H_j·G + S_jt C S_jt."""

    transient: np.ndarray  # U [K, K]
    school_year: np.ndarray  # G [K, K]
    sampling_correlation: np.ndarray  # C [K, K]


@dataclass(frozen=True)
class Prior:
    mean: np.ndarray  # μ [K]
    covariance: np.ndarray  # Σ [K, K], the part every unit shares
    unit_covariance: np.ndarray | None = None  # [J, K, K] added per unit (``Panel.persistent_prior``)

    @property
    def unit_total(self) -> np.ndarray:
        """[J, K, K] (or [1, K, K] without a unit part): each unit's prior covariance."""
        shared = self.covariance[None]
        return shared if self.unit_covariance is None else shared + self.unit_covariance

    @property
    def between(self) -> np.ndarray:
        """[K, K] the covariance of persistent levels across units: Σ plus the mean unit part."""
        return self.unit_total.mean(axis=0)


@dataclass(frozen=True)
class Fit:
    noise: NoiseModel
    prior: Prior


def nearest_psd(matrix: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """The symmetric matrix with eigenvalues clipped at ``floor``."""
    symmetric = (matrix + matrix.T) / 2
    values, vectors = np.linalg.eigh(symmetric)
    return (vectors * np.clip(values, floor, None)) @ vectors.T


def _as_correlation(matrix: np.ndarray) -> np.ndarray:
    clipped = nearest_psd(np.clip(matrix, -1.0, 1.0), EIGEN_FLOOR)
    scale = np.sqrt(np.diag(clipped))
    correlation = clipped / np.outer(scale, scale)
    np.fill_diagonal(correlation, 1.0)
    return correlation


def _weighted_least_squares(
    design: np.ndarray, target: np.ndarray, weight: np.ndarray, ridge: np.ndarray | float = 0.0
) -> np.ndarray:
    """Coefficients per problem: design [..., J, C], target and weight [..., J] → [..., C]; ``ridge`` is
    added to the normal matrices (to keep a column that is all zero in a problem solvable)."""
    weighted = design * weight[..., None]
    normal = np.einsum("...jc,...jd->...cd", weighted, design) + ridge + np.eye(design.shape[-1]) * 1e-12
    right = np.einsum("...jc,...j->...c", weighted, target)
    return np.linalg.solve(normal, right[..., None])[..., 0]


def fit_noise(panel: Panel, full_covariance: bool) -> NoiseModel:
    """U, G and C from each unit's deviations from its own mean over the years both indicators have.

    For indicators k, l and a unit with ``n ≥ 2`` joint years, the sample covariance of the deviations has
    expectation ``U_kl + H·G_kl + C_kl·mean(s_k s_l)``. The diagonal takes ``C_kk = 1`` (the published
    standard errors are trusted); weights are the inverse of the Wishart variance of the estimate.
    """
    units, indicators, _ = panel.z.shape
    observed = panel.observed
    z = np.where(observed, panel.z, 0.0)
    sd = np.where(observed, panel.sampling_sd, 0.0)
    joint = observed[:, :, None, :] & observed[:, None, :, :]  # [J, K, K, T]
    count = joint.sum(axis=3)
    safe = np.maximum(count, 1)
    mean_k = (joint * z[:, :, None, :]).sum(axis=3) / safe
    mean_l = (joint * z[:, None, :, :]).sum(axis=3) / safe
    deviation_k = (z[:, :, None, :] - mean_k[..., None]) * joint
    deviation_l = (z[:, None, :, :] - mean_l[..., None]) * joint
    usable = count >= 2
    within = (deviation_k * deviation_l).sum(axis=3) / np.maximum(count - 1, 1)
    sampling = (joint * sd[:, :, None, :] * sd[:, None, :, :]).sum(axis=3) / safe
    concentration = panel.concentration
    with_schools = bool(np.ptp(concentration) > 0)

    diagonal = np.arange(indicators)
    # Rough per-indicator variances for the weights: sampling plus the median excess.
    excess = np.array(
        [
            max(float(np.median((within[:, k, k] - sampling[:, k, k])[usable[:, k, k]])), 0.0)
            if usable[:, k, k].any()
            else 0.0
            for k in diagonal
        ]
    )
    variance = sampling[:, diagonal, diagonal] + excess  # [J, K]
    expected_var = variance[:, :, None] * variance[:, None, :] + sampling**2
    weight = np.where(usable, (count - 1) / np.maximum(expected_var, 1e-12), 0.0)
    if not full_covariance:
        weight = weight * np.eye(indicators, dtype=bool)

    # Every pair's least squares at once: columns 1, H (when schools vary) and, off the diagonal, the
    # mean product of standard errors; on the diagonal C = 1 moves that part to the target.
    ones = np.ones((units, indicators, indicators))
    columns = [ones] + ([np.broadcast_to(concentration[:, None, None], ones.shape)] if with_schools else [])
    is_diagonal = np.eye(indicators, dtype=bool)[None]
    design = np.stack([*columns, np.where(is_diagonal, 0.0, sampling)], axis=-1).transpose(1, 2, 0, 3)
    target = np.where(is_diagonal, within - sampling, within).transpose(1, 2, 0)  # [K, K, J]
    weight = weight.transpose(1, 2, 0)
    ridge = np.zeros((indicators, indicators, design.shape[-1], design.shape[-1]))
    ridge[..., -1, -1] = np.eye(indicators)  # C's column is 0 on the diagonal
    coefficients = _weighted_least_squares(design, target, weight, ridge)  # [K, K, C]
    fitted_any = weight.sum(axis=2) > 0
    coefficients = np.where(fitted_any[..., None], coefficients, 0.0)
    transient = coefficients[..., 0]
    school_year = coefficients[..., 1] if with_schools else np.zeros((indicators, indicators))
    correlation = np.where(is_diagonal[0], 1.0, np.where(fitted_any, coefficients[..., -1], 0.0))
    if with_schools:
        for k in diagonal:
            if transient[k, k] >= 0 and school_year[k, k] >= 0:
                continue
            # A negative variance part is estimation noise: refit with that part at zero.
            keep = 1 if transient[k, k] < 0 else 0
            alone = _weighted_least_squares(design[k, k][:, [keep]], target[k, k], weight[k, k])[0]
            transient[k, k], school_year[k, k] = 0.0, 0.0
            (school_year if keep else transient)[k, k] = max(alone, 0.0)
    np.fill_diagonal(transient, np.clip(np.diag(transient), 0.0, None))
    return NoiseModel(
        transient=nearest_psd(transient),
        school_year=nearest_psd(school_year),
        sampling_correlation=_as_correlation(correlation),
    )


def yearly_noise(panel: Panel, noise: NoiseModel) -> np.ndarray:
    """R_jt [J, T, K, K]: the covariance of one year's transient and sampling noise."""
    sd = np.where(panel.observed, panel.sampling_sd, 0.0).transpose(0, 2, 1)  # [J, T, K]
    persistent = noise.transient + panel.concentration[:, None, None] * noise.school_year  # [J, K, K]
    sampling = sd[..., :, None] * sd[..., None, :] * noise.sampling_correlation
    return persistent[:, None] + sampling


def window_error(panel: Panel, noise: NoiseModel) -> np.ndarray:
    """E_j [J, K, K]: the error covariance of the window means; UNOBSERVED on indicators without a figure."""
    observed = panel.observed.astype(np.float64)
    yearly = yearly_noise(panel, noise)  # [J, T, K, K]
    joint = observed.transpose(0, 2, 1)  # [J, T, K]
    summed = np.einsum("jtk,jtl,jtkl->jkl", joint, joint, yearly)
    counts = panel.years_observed.astype(np.float64)
    denominator = np.maximum(counts[:, :, None] * counts[:, None, :], 1.0)
    error = summed / denominator
    missing = counts == 0
    index = np.arange(error.shape[1])
    if panel.persistent_error is not None:
        error += panel.persistent_error
    error[missing[:, :, None] | missing[:, None, :]] = 0.0
    error[:, index, index] = np.where(missing, UNOBSERVED, error[:, index, index])
    return error


def fit_prior(panel: Panel, error: np.ndarray, full_covariance: bool) -> Prior:
    """μ and Σ by moments: the pairwise covariance of window means across units less the mean error."""
    has = (panel.years_observed > 0).astype(np.float64)
    values = panel.window_mean * has
    pairs = has.T @ has  # units with both
    mu = np.divide(values.sum(axis=0), has.sum(axis=0), out=np.zeros(has.shape[1]), where=has.sum(axis=0) > 0)
    sums = values.T @ has  # [k, m]: Σ y_k over units with both
    mean_k = np.divide(sums, pairs, out=np.zeros_like(sums), where=pairs > 0)
    products = values.T @ values
    moment = np.divide(
        products - pairs * mean_k * mean_k.T, pairs - 1, out=np.zeros_like(products), where=pairs > 1
    )
    # The unit parts (schools' persistent effects) are in the moment as the error is: taken out the same way.
    unit_part = error if panel.persistent_prior is None else error + panel.persistent_prior
    observed_error = np.where(has[:, :, None] * has[:, None, :] > 0, unit_part, 0.0).sum(axis=0)
    covariance = moment - np.divide(observed_error, pairs, out=np.zeros_like(products), where=pairs > 1)
    if not full_covariance:
        covariance = np.diag(np.diag(covariance))
    floor = EIGEN_FLOOR * max(float(np.trace(np.abs(covariance))), 1.0)
    return Prior(mean=mu, covariance=nearest_psd(covariance, floor), unit_covariance=panel.persistent_prior)


def fit(panel: Panel) -> Fit:
    full = panel.z.shape[0] >= MIN_UNITS_FOR_COVARIANCE
    noise = fit_noise(panel, full)
    return Fit(noise, fit_prior(panel, window_error(panel, noise), full))


def posterior(window_mean: np.ndarray, error: np.ndarray, prior: Prior) -> tuple[np.ndarray, np.ndarray]:
    """The normal posterior of every unit's η: means [J, K] and covariances [J, K, K]."""
    sigma = np.broadcast_to(prior.unit_total, error.shape)
    total = sigma + error
    residual = window_mean - prior.mean
    residual = np.where(np.diagonal(error, axis1=1, axis2=2) >= UNOBSERVED, 0.0, residual)
    # gain = Σ (Σ + E)⁻¹, from the symmetric solve (Σ + E)⁻¹ Σ.
    gain = np.linalg.solve(total, sigma).transpose(0, 2, 1)
    mean = prior.mean + np.einsum("jkl,jl->jk", gain, residual)
    covariance = sigma - gain @ sigma
    covariance = (covariance + covariance.transpose(0, 2, 1)) / 2
    return mean, covariance


def simulate(panel: Panel, fitted: Fit, rng: np.random.Generator) -> Panel:
    """A panel drawn from the fitted model with the real panel's gaps and standard errors."""
    units, indicators, years = panel.z.shape
    level = rng.multivariate_normal(fitted.prior.mean, fitted.prior.covariance, size=units, method="eigh")
    yearly = yearly_noise(panel, fitted.noise) + np.eye(indicators) * EIGEN_FLOOR
    factor = np.linalg.cholesky(yearly)  # [J, T, K, K]
    noise = np.einsum("jtkl,jtl->jtk", factor, rng.standard_normal((units, years, indicators)))
    for persistent in (panel.persistent_error, panel.persistent_prior):
        if persistent is not None:
            factor = np.linalg.cholesky(persistent + np.eye(indicators) * EIGEN_FLOOR)
            level = level + np.einsum("jkl,jl->jk", factor, rng.standard_normal(level.shape))
    z = level[:, :, None] + noise.transpose(0, 2, 1)
    return replace(panel, z=np.where(panel.observed, z, np.nan))


def bootstrap_fits(panel: Panel, fitted: Fit, replicates: int, rng: np.random.Generator) -> list[Fit]:
    """The fit itself and ``replicates − 1`` re-estimates on data simulated from it."""
    return [fitted] + [fit(simulate(panel, fitted, rng)) for _ in range(replicates - 1)]
