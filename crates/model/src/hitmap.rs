//! The hitmap grid: which cell a transaction falls in. Server (binning) and app (live updates, mapping a
//! dragged rectangle back to times and durations) share this code so they always agree.

use serde::{Deserialize, Serialize};

/// How response time maps to rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    #[default]
    Linear,
    /// Logarithmic from 1 ms to `ymax`; everything under 1 ms lands in row 0.
    Log,
}

impl Scale {
    pub fn as_str(&self) -> &'static str {
        match self {
            Scale::Linear => "linear",
            Scale::Log => "log",
        }
    }
}

/// The shape of a hitmap: `cols` time columns over `[from, to)`, `rows` duration rows over `[0, ymax_ms)`
/// and one extra top row, the "≥ max" band, for everything slower.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    pub from: i64,
    pub to: i64,
    pub cols: u32,
    pub rows: u32,
    pub ymax_ms: f64,
    pub scale: Scale,
}

impl Grid {
    /// Number of rows including the overflow band.
    pub fn total_rows(&self) -> u32 {
        self.rows + 1
    }

    /// Number of cells in the count arrays.
    pub fn cells(&self) -> usize {
        self.cols as usize * self.total_rows() as usize
    }

    /// Milliseconds per column.
    pub fn col_ms(&self) -> f64 {
        (self.to - self.from) as f64 / self.cols as f64
    }

    /// Column of an end time, `None` outside `[from, to)`.
    pub fn col_of(&self, end_ms: i64) -> Option<u32> {
        if end_ms < self.from || end_ms >= self.to {
            return None;
        }
        let c = ((end_ms - self.from) as f64 / self.col_ms()) as u32;
        Some(c.min(self.cols - 1))
    }

    /// Row of a duration: 0 at the bottom (0 ms included), `rows` is the "≥ max" band.
    pub fn row_of(&self, duration_ms: f64) -> u32 {
        if duration_ms >= self.ymax_ms {
            return self.rows;
        }
        let f = match self.scale {
            Scale::Linear => duration_ms / self.ymax_ms,
            Scale::Log => {
                if duration_ms < 1.0 || self.ymax_ms <= 1.0 {
                    return 0;
                }
                duration_ms.ln() / self.ymax_ms.ln()
            }
        };
        ((f * self.rows as f64) as u32).min(self.rows - 1)
    }

    /// Lower duration bound of a row (inclusive); row 0 starts at 0 ms.
    pub fn row_low_ms(&self, row: u32) -> f64 {
        if row == 0 {
            return 0.0;
        }
        if row >= self.rows {
            return self.ymax_ms;
        }
        let f = row as f64 / self.rows as f64;
        match self.scale {
            Scale::Linear => f * self.ymax_ms,
            Scale::Log => self.ymax_ms.powf(f),
        }
    }

    /// Upper duration bound of a row (exclusive); `None` for the open-ended "≥ max" band.
    pub fn row_high_ms(&self, row: u32) -> Option<f64> {
        (row < self.rows).then(|| self.row_low_ms(row + 1))
    }

    /// Start time of a column.
    pub fn col_start(&self, col: u32) -> i64 {
        self.from + (col as f64 * self.col_ms()).round() as i64
    }

    /// Index into [`Hitmap::ok`] / [`Hitmap::err`]: column-major, so a live column is appended in one piece.
    pub fn index(&self, col: u32, row: u32) -> usize {
        col as usize * self.total_rows() as usize + row as usize
    }
}

/// Answer of `GET /api/v1/hitmap`: per-cell counts, split ok / error. Every transaction is counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hitmap {
    pub grid: Grid,
    /// Successful transactions per cell, indexed by [`Grid::index`].
    pub ok: Vec<u32>,
    /// Failed transactions per cell, indexed by [`Grid::index`].
    pub err: Vec<u32>,
    /// Transactions counted (ok + error) in the whole grid.
    pub total: u64,
    pub total_err: u64,
    /// The live stream's sequence number this snapshot includes: stream events with a higher `id` are
    /// not in it yet, so a client applies exactly those and counts nothing twice or not at all.
    #[serde(default)]
    pub seq: u64,
    /// Set when the window reaches history the server has not read yet: older cells may be missing
    /// transactions (see [`crate::HistoryLoading`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<crate::HistoryLoading>,
}

impl Hitmap {
    /// An all-zero hitmap of this shape.
    pub fn empty(grid: Grid) -> Self {
        let n = grid.cells();
        Hitmap { grid, ok: vec![0; n], err: vec![0; n], total: 0, total_err: 0, seq: 0, history: None }
    }

    /// Counts one transaction; returns false when it falls outside the time window.
    pub fn add(&mut self, end_ms: i64, duration_ms: f64, error: bool) -> bool {
        let Some(col) = self.grid.col_of(end_ms) else { return false };
        let i = self.grid.index(col, self.grid.row_of(duration_ms));
        if error {
            self.err[i] += 1;
            self.total_err += 1;
        } else {
            self.ok[i] += 1;
        }
        self.total += 1;
        true
    }

    /// Moves the window forward so it ends at or after `to`, by whole columns: the oldest columns drop out,
    /// empty ones appear on the right. Live views call this instead of refetching everything.
    /// Returns how many columns moved.
    pub fn advance(&mut self, to: i64) -> u32 {
        if to <= self.grid.to {
            return 0;
        }
        let col_ms = self.grid.col_ms();
        let k = ((to - self.grid.to) as f64 / col_ms).ceil() as usize;
        let rows = self.grid.total_rows() as usize;
        let keep = (self.grid.cols as usize).saturating_sub(k);
        let n = (self.grid.cols as usize - keep) * rows;
        let drop_ok: u64 = self.ok.drain(..n).map(u64::from).sum();
        let drop_err: u64 = self.err.drain(..n).map(u64::from).sum();
        self.ok.resize(self.grid.cells(), 0);
        self.err.resize(self.grid.cells(), 0);
        self.total -= drop_ok + drop_err;
        self.total_err -= drop_err;
        let shift = (k as f64 * col_ms).round() as i64;
        self.grid.from += shift;
        self.grid.to += shift;
        k as u32
    }

    /// The largest ok+err count of any cell, for colour scaling.
    pub fn max_cell(&self) -> u32 {
        self.ok.iter().zip(&self.err).map(|(a, b)| a + b).max().unwrap_or(0)
    }
}

/// One finished transaction as pushed by the live stream (`GET /api/v1/hitmap/live`, server-sent events,
/// one JSON array of these per event, the event `id` its sequence number), so the app can add it to the
/// grid without refetching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePoint {
    pub end_ms: i64,
    pub duration_ms: f64,
    pub error: bool,
    pub service: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(scale: Scale) -> Grid {
        Grid { from: 0, to: 240_000, cols: 240, rows: 100, ymax_ms: 5000.0, scale }
    }

    #[test]
    fn zero_and_overflow_are_kept() {
        let g = grid(Scale::Linear);
        assert_eq!(g.row_of(0.0), 0);
        assert_eq!(g.row_of(4999.9), 99);
        assert_eq!(g.row_of(5000.0), 100);
        assert_eq!(g.row_of(1e9), 100);
        let g = grid(Scale::Log);
        assert_eq!(g.row_of(0.0), 0);
        assert_eq!(g.row_of(0.5), 0);
        assert_eq!(g.row_of(7000.0), 100);
    }

    #[test]
    fn row_bounds_contain_their_durations() {
        for scale in [Scale::Linear, Scale::Log] {
            let g = grid(scale);
            for d in [0.0, 0.9, 1.0, 3.0, 42.0, 999.0, 3000.0, 4999.0] {
                let r = g.row_of(d);
                assert!(g.row_low_ms(r) <= d + 1e-9, "{scale:?} {d} row {r}");
                if let Some(h) = g.row_high_ms(r) {
                    assert!(d < h + 1e-9, "{scale:?} {d} row {r} high {h}");
                }
            }
        }
    }

    #[test]
    fn columns_cover_the_window() {
        let g = grid(Scale::Linear);
        assert_eq!(g.col_of(-1), None);
        assert_eq!(g.col_of(0), Some(0));
        assert_eq!(g.col_of(239_999), Some(239));
        assert_eq!(g.col_of(240_000), None);
        let mut h = Hitmap::empty(g);
        assert!(h.add(1_500, 3000.0, true));
        assert!(!h.add(240_000, 1.0, false));
        assert_eq!((h.total, h.total_err, h.max_cell()), (1, 1, 1));
    }

    #[test]
    fn advancing_drops_old_columns_and_keeps_the_rest_in_place() {
        let g = Grid { from: 0, to: 10_000, cols: 10, rows: 4, ymax_ms: 100.0, scale: Scale::Linear };
        let mut h = Hitmap::empty(g);
        h.add(500, 10.0, false); // column 0
        h.add(2_500, 10.0, true); // column 2
        h.add(9_500, 10.0, false); // column 9
        assert_eq!(h.advance(9_000), 0);
        assert_eq!(h.advance(11_200), 2);
        assert_eq!((h.grid.from, h.grid.to), (2_000, 12_000));
        assert_eq!((h.total, h.total_err), (2, 1));
        assert_eq!(h.err[h.grid.index(0, 0)], 1, "old column 2 is now column 0");
        assert_eq!(h.ok[h.grid.index(7, 0)], 1, "old column 9 is now column 7");
        assert!(h.add(11_900, 10.0, false));
        assert_eq!(h.ok[h.grid.index(9, 0)], 1);
        assert_eq!(h.advance(100_000), 88);
        assert_eq!((h.grid.from, h.grid.to), (90_000, 100_000));
        assert_eq!((h.total, h.max_cell()), (0, 0));
    }
}
