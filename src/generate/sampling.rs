//! Random draws the generator shares: weighted choices, rough normal and Poisson numbers,
//! and evenly spread bad rows.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Samples indices in proportion to their weights.
pub(super) struct Weighted {
    pub(super) cumulative: Vec<f64>,
}

impl Weighted {
    pub(super) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|weight| {
                total += weight.max(0.0);
                total
            })
            .collect();
        Self { cumulative }
    }

    /// Panics when there is nothing to sample: callers only build tables they know are non-empty.
    pub(super) fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cumulative.last().expect("sampling from no weights");
        let x = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len() - 1)
    }
}

pub(super) fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// An approximately standard normal number (sum of four uniforms), cheap and deterministic.
pub(super) fn standard_normal(rng: &mut impl Rng) -> f64 {
    let sum: f64 = (0..4).map(|_| rng.random::<f64>()).sum();
    (sum - 2.0) * 3.0_f64.sqrt()
}

/// A Poisson-distributed count; Knuth's method for small means, a normal approximation above.
pub(super) fn poisson(rng: &mut impl Rng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return (mean + mean.sqrt() * standard_normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut product = rng.random::<f64>();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

pub(super) fn round_to(value: f64, step: f64) -> u32 {
    ((value / step).round() * step).max(0.0) as u32
}

/// Fires once every `period` rows, at row `phase` of each period: spreads a few bad rows evenly,
/// about `wanted` of them in `expected_rows` rows but never more than one in `min_period`.
#[derive(Clone, Copy)]
pub(super) struct Every {
    pub(super) period: usize,
    pub(super) phase: usize,
}

impl Every {
    pub(super) fn new(
        expected_rows: usize,
        wanted: usize,
        min_period: usize,
        phase_share: f64,
    ) -> Self {
        let period = (expected_rows / wanted.max(1)).max(min_period).max(1);
        let phase = ((period as f64 * phase_share) as usize).min(period - 1);
        Self { period, phase }
    }

    pub(super) fn hits(self, row: usize) -> bool {
        row % self.period == self.phase
    }
}

/// `value` with the given probability, else the empty string: most extra columns of a real
/// export are sparse.
pub(super) fn sometimes<'v>(rng: &mut ChaCha8Rng, probability: f64, value: &'v str) -> &'v str {
    if rng.random_bool(probability) {
        value
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng_for;

    #[test]
    fn weighted_sampling_follows_the_weights() {
        let weights = Weighted::new([1.0, 0.0, 3.0]);
        let mut rng = rng_for(1, 1);
        let mut counts = [0; 3];
        for _ in 0..4000 {
            counts[weights.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > counts[0] * 2);
    }
}
