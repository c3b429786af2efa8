//! Exact cell edges for SQL: the integer end offsets and durations (ns) at which [`Grid::col_of`] and
//! [`Grid::row_of`] step to the next column or row.
//!
//! The hitmap's binning is defined by floating-point formulas in the model (`ln` for the log scale). Sending
//! those formulas to ClickHouse would bin a transaction at a cell edge differently whenever its `log` or its
//! parsing of a float literal differs from Rust's in the last bit, and the two stores would disagree. Both
//! functions are monotonic, so each is fully described by where it steps: those edges are worked out here,
//! with the model's own functions, as integers; SQL takes a cheap candidate cell and corrects it by at most
//! one with the edges. Time ranges and duration bands (drag-select, `min_ms`/`max_ms`) become integer ranges
//! the same way.

use sightline_model::{Grid, Scale};

/// A duration that no transaction reaches: the upper edge of the "≥ max" band.
pub const NS_MAX: u64 = u64::MAX;

/// The smallest `x` in `[lo, hi]` for which `pred` holds, `hi` if none below it does (`pred` monotonic).
fn first(mut lo: u64, mut hi: u64, pred: impl Fn(u64) -> bool) -> u64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

fn ms_of_ns(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The smallest duration in ns whose milliseconds (as the store computes them) are `>= ms`.
pub fn ns_at_least(ms: f64) -> u64 {
    if ms.is_nan() || ms <= 0.0 {
        return 0;
    }
    if ms >= 1.8e13 {
        return NS_MAX;
    }
    first(0, (ms * 1e6).ceil() as u64 + 2, |ns| ms_of_ns(ns) >= ms)
}

/// `edges[k]`: the smallest offset from `grid.from` (ms) whose column is `>= k`, for `k` in `0..=cols`
/// (`edges[cols]` is the window's length).
pub fn col_edges(grid: &Grid) -> Vec<i64> {
    let span = grid.to - grid.from;
    let cols = grid.cols as i64;
    let mut edges = Vec::with_capacity(grid.cols as usize + 1);
    edges.push(0);
    for k in 1..cols {
        // The exact edge, then the model's own verdict around it.
        let exact = ((k as i128 * span as i128 + cols as i128 - 1) / cols as i128) as i64;
        let col = |off: i64| grid.col_of(grid.from + off).map(|c| c as i64).unwrap_or(cols);
        let mut e = exact.clamp(0, span);
        while e > 0 && col(e - 1) >= k {
            e -= 1;
        }
        while e < span && col(e) < k {
            e += 1;
        }
        edges.push(e);
    }
    edges.push(span.max(0));
    edges
}

/// `edges[r]`: the smallest duration (ns) whose row is `>= r`, for `r` in `0..=rows` (`edges[rows]` starts
/// the "≥ max" band), then [`NS_MAX`].
pub fn row_edges(grid: &Grid) -> Vec<u64> {
    let top = ns_at_least(grid.ymax_ms);
    let mut edges = Vec::with_capacity(grid.rows as usize + 2);
    edges.push(0);
    for r in 1..=grid.rows {
        edges.push(first(0, top, |ns| grid.row_of(ms_of_ns(ns)) >= r));
    }
    edges.push(NS_MAX);
    edges
}

/// SQL for one integer per transaction naming its cell and outcome, `(col · (rows + 1) + row) · 2 + error`,
/// as `k` (with the helper aliases `c0`, `col`, `r0`, `row`): grouping by one integer is much cheaper for
/// ClickHouse than by three columns. [`split_key`] undoes it.
pub fn cell_key_sql(grid: &Grid) -> String {
    format!(
        "{}, {}, (col * {} + row) * 2 + error AS k",
        col_sql(grid, &col_edges(grid)),
        row_sql(grid, &row_edges(grid)),
        grid.total_rows()
    )
}

/// `(col, row, error)` of a key made by [`cell_key_sql`].
pub fn split_key(grid: &Grid, k: u64) -> (u32, u32, bool) {
    let cell = k / 2;
    let rows = grid.total_rows() as u64;
    ((cell / rows) as u32, (cell % rows) as u32, k % 2 == 1)
}

/// SQL for the column of `end_ms` (0-based; rows outside the window must be filtered out by the caller).
///
/// The candidate `c0` is the exact quotient minus a half column, so it is the model's column or one below
/// (the model divides in floating point, which can land on either side of the exact quotient by a hair):
/// one edge lookup then settles it. One lookup instead of one on each side halves the per-row work of the
/// correction, which costs as much as the candidate itself at 10 M rows. Every operand is an `Int64`:
/// ClickHouse divides a negative `Int64` by a `UInt64` literal as unsigned (a huge quotient, not 0).
pub fn col_sql(grid: &Grid, edges: &[i64]) -> String {
    let span = (grid.to - grid.from).max(1);
    let cols = grid.cols;
    // `e` is 1-based in SQL, so edges[k] is `e[k + 1]`.
    format!(
        "least(toUInt32(greatest(intDiv((end_ms - {from}) * {cols} - toInt64({half}), toInt64({span})), 0)), {last}) AS c0, \
         toUInt32(c0 + ((end_ms - {from}) >= arrayElement({e}, c0 + 2))) AS col",
        from = grid.from,
        half = (span + 1) / 2,
        last = cols - 1,
        e = array_sql(edges),
    )
}

/// SQL for the row of `duration_ns` (the "≥ max" band is `rows`). As for columns, the candidate `r0` is
/// computed half a row low, so it is the model's row or one below, and one edge lookup settles it.
pub fn row_sql(grid: &Grid, edges: &[u64]) -> String {
    let rows = grid.rows;
    let candidate = match grid.scale {
        // Integer arithmetic (cheaper than floats per row); clamped so the product cannot overflow.
        Scale::Linear => {
            let y = linear_ymax_ns(grid);
            format!("intDiv(toInt64(least(duration_ns, {})) * {rows} - toInt64({}), toInt64({y}))", y * 2, y / 2)
        }
        Scale::Log if grid.ymax_ms > 1.0 => {
            format!("floor(if(duration_ns < 1000000, 0, log(duration_ns / 1000000) / {:?} * {rows}) - 0.5)", grid.ymax_ms.ln())
        }
        // Below a 1 ms top the log scale has two bands: row 0, and "≥ max" from the top on.
        Scale::Log => format!("if(duration_ns >= {}, {rows}, 0)", edges[rows as usize]),
    };
    format!(
        "least(toUInt32(greatest({candidate}, 0)), {rows}) AS r0, toUInt32(r0 + (duration_ns >= arrayElement({e}, r0 + 2))) AS row",
        e = array_sql(edges),
    )
}

/// The linear scale's top in ns as the SQL's integers (bounded so `2 · y · rows` fits an `Int64`).
fn linear_ymax_ns(grid: &Grid) -> u64 {
    ((grid.ymax_ms * 1e6).round() as u64).clamp(1, i64::MAX as u64 / 4 / grid.rows.max(1) as u64)
}

fn array_sql<T: std::fmt::Display>(v: &[T]) -> String {
    let mut s = String::with_capacity(v.len() * 12);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x.to_string());
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grids() -> Vec<Grid> {
        let mut v = Vec::new();
        for (from, to, cols) in [(0, 60_000, 24), (1_000, 1_000 + 1_001, 7), (5, 5 + 3 * 86_400_000 + 17, 333)] {
            for (rows, ymax_ms) in [(10, 1000.0), (37, 2_345.678), (4, 100.0), (60, 1.5), (3, 0.75), (100, 5_000.0)] {
                for scale in [Scale::Linear, Scale::Log] {
                    v.push(Grid { from, to, cols, rows, ymax_ms, scale });
                }
            }
        }
        v
    }

    /// The edges say exactly what the model's binning says, on both sides of every edge.
    #[test]
    fn edges_match_the_models_binning() {
        for g in grids() {
            let ce = col_edges(&g);
            assert_eq!(ce.len(), g.cols as usize + 1);
            for (k, &e) in ce.iter().enumerate().take(g.cols as usize).skip(1) {
                assert_eq!(g.col_of(g.from + e), Some(k as u32), "{g:?} col edge {k}");
                assert!(g.col_of(g.from + e - 1).unwrap() < k as u32, "{g:?} below col edge {k}");
            }
            let re = row_edges(&g);
            assert_eq!(re.len(), g.rows as usize + 2);
            for (r, &e) in re.iter().enumerate().take(g.rows as usize + 1).skip(1) {
                let at = g.row_of(ms_of_ns(e));
                assert!(at >= r as u32, "{g:?} row edge {r}: {at}");
                if e > 0 {
                    assert!(g.row_of(ms_of_ns(e - 1)) < r as u32, "{g:?} below row edge {r}");
                }
            }
        }
    }

    /// The SQL's candidates (computed here as ClickHouse does) are the model's cell or one below, which is
    /// what the single edge lookup needs.
    #[test]
    fn candidates_are_the_models_cell_or_one_below() {
        for g in grids() {
            let span = (g.to - g.from).max(1);
            let half = (span + 1) / 2;
            let cols = g.cols as i64;
            let edges = col_edges(&g);
            for off in (0..span).step_by((span as usize / 5_000).max(1)).chain(edges.iter().flat_map(|&e| [e - 1, e, e + 1])) {
                if !(0..span).contains(&off) {
                    continue;
                }
                // ClickHouse's intDiv truncates toward zero.
                let c0 = ((off * cols - half) / span).max(0).min(cols - 1);
                let model = g.col_of(g.from + off).unwrap() as i64;
                assert!(c0 == model || c0 + 1 == model, "{g:?} off {off}: candidate {c0}, model {model}");
            }
            let rows = g.rows as i64;
            let redges = row_edges(&g);
            let probes = redges.iter().take(g.rows as usize + 1).flat_map(|&e| [e.saturating_sub(1), e, e + 1]).chain((0..2_000).map(|i| (1.02f64.powi(i) * 1e3) as u64));
            for d in probes {
                let x: i64 = match g.scale {
                    Scale::Linear => {
                        let y = linear_ymax_ns(&g) as i64;
                        (d.min(2 * y as u64) as i64 * rows - y / 2) / y
                    }
                    Scale::Log if g.ymax_ms > 1.0 => {
                        let f = if d < 1_000_000 { 0.0 } else { (d as f64 / 1e6).ln() / g.ymax_ms.ln() * rows as f64 };
                        (f - 0.5).floor() as i64
                    }
                    Scale::Log => {
                        if d >= redges[rows as usize] {
                            rows
                        } else {
                            0
                        }
                    }
                };
                let r0 = x.max(0).min(rows);
                let model = g.row_of(ms_of_ns(d)) as i64;
                assert!(r0 == model || r0 + 1 == model, "{g:?} {d} ns: candidate {r0}, model {model}");
            }
        }
    }

    #[test]
    fn duration_bounds_are_the_first_ns_at_or_above() {
        for ms in [0.0, 0.4, 0.5, 1.0, 12.5, 99.9, 400.0, 999.9, 1000.0, 1e-7, 3.3333333] {
            let ns = ns_at_least(ms);
            assert!(ms_of_ns(ns) >= ms, "{ms}");
            assert!(ns == 0 || ms_of_ns(ns - 1) < ms, "{ms}");
        }
        assert_eq!(ns_at_least(f64::INFINITY), NS_MAX);
    }
}
