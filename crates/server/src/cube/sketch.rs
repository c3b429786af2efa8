//! A mergeable duration sketch: DDSketch's logarithmic index mapping over a *sparse* store.
//!
//! A value `v` goes to bucket `k = ceil(ln v / ln γ)` with `γ = (1 + a) / (1 − a)`, `a` =
//! [`SKETCH_RELATIVE_ERROR`]; bucket `k` holds `(γ^(k−1), γ^k]` and answers with `2γ^k / (γ + 1)`, which is
//! within a relative `a` of every value in it. Quantiles are by nearest rank (rank `ceil(q·n)`, 1-based,
//! the definition `store/columns.rs` uses for metric series): the bucket holding the rank-th smallest value
//! answers, so the result is within `a` of the exact nearest-rank value. Merging adds counts per bucket:
//! the merge of two sketches is exactly the sketch of the union, whatever the order.
//!
//! Why not the `sketches-ddsketch` crate: its store is dense (a `Vec<u64>` of bins from the lowest to the
//! highest key, grown in chunks of 128, up to 2 048 bins), about 2 KB per sketch once durations spread over
//! a few decades; the cube keeps one sketch per cell and per minute, millions of them. Here a sketch is the
//! sorted `(key, count)` pairs that are non-zero — a cell of one transaction costs one pair.

use sightline_model::SKETCH_RELATIVE_ERROR;

/// Values at or below this (ms) are counted in the zero bucket and answer 0: durations come in whole
/// nanoseconds, so only a zero duration lands there.
pub const MIN_VALUE_MS: f64 = 1e-7;

fn gamma() -> f64 {
    (1.0 + SKETCH_RELATIVE_ERROR) / (1.0 - SKETCH_RELATIVE_ERROR)
}

/// Bucket of `v`; `None` for the zero bucket.
pub fn key_of(v: f64) -> Option<i32> {
    // NaN goes to the zero bucket too, rather than to an absurd key.
    if v.is_nan() || v <= MIN_VALUE_MS {
        return None;
    }
    Some((v.ln() / gamma().ln()).ceil() as i32)
}

/// The value bucket `k` answers with.
pub fn value_of(k: i32) -> f64 {
    let g = gamma();
    2.0 * g.powi(k) / (g + 1.0)
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    /// Values in the zero bucket.
    pub zero: u64,
    /// Non-empty buckets, by ascending key.
    pub bins: Vec<(i32, u64)>,
}

impl Sketch {
    pub fn count(&self) -> u64 {
        self.zero + self.bins.iter().map(|b| b.1).sum::<u64>()
    }

    pub fn add(&mut self, v: f64) {
        match key_of(v) {
            None => self.zero += 1,
            Some(k) => self.add_key(k, 1),
        }
    }

    pub fn add_key(&mut self, k: i32, n: u64) {
        match self.bins.binary_search_by_key(&k, |b| b.0) {
            Ok(i) => self.bins[i].1 += n,
            Err(i) => self.bins.insert(i, (k, n)),
        }
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Sketch) {
        self.zero += other.zero;
        if other.bins.is_empty() {
            return;
        }
        if self.bins.is_empty() {
            self.bins.extend_from_slice(&other.bins);
            return;
        }
        let (x, y) = (&self.bins, &other.bins);
        let mut out = Vec::with_capacity(x.len() + y.len());
        let (mut i, mut j) = (0, 0);
        while i < x.len() && j < y.len() {
            match x[i].0.cmp(&y[j].0) {
                std::cmp::Ordering::Less => {
                    out.push(x[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(y[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    out.push((x[i].0, x[i].1 + y[j].1));
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&x[i..]);
        out.extend_from_slice(&y[j..]);
        self.bins = out;
    }

    /// The nearest-rank `q` quantile (within the relative error), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        if rank <= self.zero {
            return Some(0.0);
        }
        let mut seen = self.zero;
        for &(k, c) in &self.bins {
            seen += c;
            if seen >= rank {
                return Some(value_of(k));
            }
        }
        self.bins.last().map(|b| value_of(b.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nearest_rank(v: &[f64], q: f64) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    }

    #[test]
    fn quantiles_are_within_the_relative_error_and_merges_are_exact() {
        let values: Vec<f64> = (0..5000u64).map(|i| ((i * 7919) % 4001) as f64 * 0.37 + (i % 3) as f64 * 1e-6).collect();
        let (mut whole, mut a, mut b) = (Sketch::default(), Sketch::default(), Sketch::default());
        for (i, v) in values.iter().enumerate() {
            whole.add(*v);
            if i % 3 == 0 { a.add(*v) } else { b.add(*v) }
        }
        a.merge(&b);
        assert_eq!(a, whole, "a merge is the sketch of the union");
        assert_eq!(whole.count(), 5000);
        for q in [0.0, 0.01, 0.5, 0.95, 0.99, 1.0] {
            let (got, want) = (whole.quantile(q).unwrap(), nearest_rank(&values, q));
            assert!((got - want).abs() <= want * SKETCH_RELATIVE_ERROR * (1.0 + 1e-9) + MIN_VALUE_MS, "q {q}: {got} vs {want}");
        }
        assert_eq!(Sketch::default().quantile(0.5), None);
    }
}
