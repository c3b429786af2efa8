//! A group's figures while a query merges cells into it.
//!
//! The sketch part is dense: counts over a window of keys, so adding a bin is one index, where merging
//! sorted pairs costs a search and, for a key the group lacks, a copy of the group's pairs (the query's
//! hot loop: a week of hour and day blobs is millions of bins). Windows are a few hundred keys for real
//! durations (a decade of durations is ~115 keys); a query's windows share a memory budget, and a group
//! that would exceed it (or whose window would be wider than [`MAX_WIDTH`]) keeps its further bins sparse,
//! as stored. Either way the result is exact: [`Acc::finish`] adds both into one sketch.

use super::rollup::Cell;

/// Widest window kept dense (keys): ~17 decades of durations.
const MAX_WIDTH: usize = 2048;

#[derive(Debug, Default, Clone)]
pub struct Acc {
    /// Counters, and the bins that did not fit the window.
    pub cell: Cell,
    base: i32,
    dense: Vec<u64>,
}

impl Acc {
    pub fn add_counters(&mut self, count: u64, errors: u64, sum_ns: u64, first_ms: i64, last_ms: i64, zero: u64) {
        let c = &mut self.cell;
        c.count += count;
        c.errors += errors;
        c.sum_ns = c.sum_ns.saturating_add(sum_ns);
        c.first_ms = c.first_ms.min(first_ms);
        c.last_ms = c.last_ms.max(last_ms);
        c.sketch.zero += zero;
    }

    /// Adds `n` values in bucket `k`; `budget` is the dense bytes the query may still take.
    #[inline]
    pub fn add_bin(&mut self, k: i32, n: u64, budget: &mut usize) {
        let i = k as i64 - self.base as i64;
        if !self.dense.is_empty() && i >= 0 && (i as usize) < self.dense.len() {
            self.dense[i as usize] += n;
        } else if !self.grow(k, budget) {
            self.cell.sketch.add_key(k, n);
        } else {
            self.dense[(k - self.base) as usize] += n;
        }
    }

    /// Widens the window to hold `k`, with room to spare; false when over the width or the budget.
    fn grow(&mut self, k: i32, budget: &mut usize) -> bool {
        if self.dense.is_empty() {
            // A first window of 64 keys around `k`: about two thirds of a decade each side.
            if *budget < 64 * 8 {
                return false;
            }
            *budget -= 64 * 8;
            self.base = k.saturating_sub(32);
            self.dense = vec![0; 64];
            return true;
        }
        let (lo, hi) = (self.base as i64, self.base as i64 + self.dense.len() as i64);
        let len = self.dense.len() as i64;
        let (new_lo, new_hi) = if (k as i64) < lo { ((k as i64).min(lo - len / 2), hi) } else { (lo, (k as i64 + 1).max(hi + len / 2)) };
        let width = (new_hi - new_lo) as usize;
        let extra = (width - self.dense.len()) * 8;
        if width > MAX_WIDTH || *budget < extra || new_lo < i32::MIN as i64 {
            return false;
        }
        *budget -= extra;
        let mut dense = vec![0u64; width];
        dense[(lo - new_lo) as usize..(hi - new_lo) as usize].copy_from_slice(&self.dense);
        self.dense = dense;
        self.base = new_lo as i32;
        true
    }

    pub fn add_cell(&mut self, c: &Cell, budget: &mut usize) {
        self.add_counters(c.count, c.errors, c.sum_ns, c.first_ms, c.last_ms, c.sketch.zero);
        for (k, n) in &c.sketch.bins {
            self.add_bin(*k, *n, budget);
        }
    }

    pub fn add_acc(&mut self, o: &Acc, budget: &mut usize) {
        self.add_cell(&o.cell, budget);
        for (i, n) in o.dense.iter().enumerate().filter(|(_, n)| **n > 0) {
            self.add_bin(o.base + i as i32, *n, budget);
        }
    }

    /// The merged cell.
    pub fn finish(self) -> Cell {
        let mut cell = self.cell;
        if cell.sketch.bins.is_empty() {
            cell.sketch.bins = self.dense.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (self.base + i as i32, *n)).collect();
        } else {
            for (i, n) in self.dense.iter().enumerate().filter(|(_, n)| **n > 0) {
                cell.sketch.add_key(self.base + i as i32, *n);
            }
        }
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dense, sparse beyond the budget or the width, or both: the same cell as merging sketches.
    #[test]
    fn any_budget_gives_the_exact_merge() {
        let mut cells = Vec::new();
        for i in 0..50u64 {
            let mut c = Cell::default();
            for j in 0..(i % 7 + 1) {
                c.add(1000 + i as i64, ((i * 37 + j * 11) % 900) as f64 * 1.7 + if i == 13 { 1e9 } else { 0.0 }, j == 0);
            }
            cells.push(c);
        }
        let mut want = Cell::default();
        for c in &cells {
            want.merge(c);
        }
        for budget in [0usize, 600, 5_000, usize::MAX] {
            let mut b = budget;
            let (mut a, mut other) = (Acc::default(), Acc::default());
            for (i, c) in cells.iter().enumerate() {
                if i % 2 == 0 { a.add_cell(c, &mut b) } else { other.add_cell(c, &mut b) }
            }
            a.add_acc(&other, &mut b);
            assert_eq!(a.finish(), want, "budget {budget}");
        }
    }
}
