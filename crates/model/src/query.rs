//! Query strings of the API's hitmap and transaction list, as the server reads them and the app sends
//! them: one definition, so a parameter's name and the spelling of a status, order or scale cannot differ
//! between the two sides. Every field is optional; absent means the server's default.

use serde::{Deserialize, Serialize};

use crate::{Order, Scale, Status};

/// Query of `GET /api/v1/hitmap`. Defaults: the last 15 minutes, 240 × 100 cells, `ymax` 5000 ms, linear.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HitmapParams {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub service: Option<String>,
    pub cols: Option<u32>,
    pub rows: Option<u32>,
    /// Top of the duration axis (ms); slower transactions land in the "≥ max" band.
    pub ymax: Option<f64>,
    pub scale: Option<Scale>,
    /// Only transactions with this value of a dimension ([`crate::TagFilter`] form, `instance=pay-2`): a
    /// value of the "what changed" panel clicked. A tag-filtered hitmap is not live.
    pub tag: Option<String>,
}

/// Query of `GET /api/v1/transactions`. `min_ms` is inclusive (0 keeps 0 ms transactions), `max_ms`
/// exclusive, and absent means no upper bound, so the hitmap's "≥ max" band is selectable.
///
/// Alternatively (or additionally) a rectangle of hitmap cells: `col_from..=col_to`, `row_from..=row_to`
/// of the grid of [`TxParams::hitmap`] (`from`, `to`, `cols`, `rows`, `ymax`, `scale`, with the hitmap's
/// defaults), matched with the functions that binned the hitmap, so the list is exactly what was counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TxParams {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub service: Option<String>,
    pub endpoint: Option<String>,
    pub status: Option<Status>,
    /// Only failed transactions with this exception type (exact match): an error group's transactions.
    pub error_type: Option<String>,
    pub order: Option<Order>,
    /// Page size (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub cols: Option<u32>,
    pub rows: Option<u32>,
    pub ymax: Option<f64>,
    pub scale: Option<Scale>,
    pub col_from: Option<u32>,
    pub col_to: Option<u32>,
    pub row_from: Option<u32>,
    pub row_to: Option<u32>,
    /// Only transactions with this value of a dimension ([`crate::TagFilter`] form).
    pub tag: Option<String>,
}

impl TxParams {
    /// The hitmap whose cells `col_from`… `row_to` refer to.
    pub fn hitmap(&self) -> HitmapParams {
        HitmapParams {
            from: self.from,
            to: self.to,
            service: None,
            cols: self.cols,
            rows: self.rows,
            ymax: self.ymax,
            scale: self.scale,
            tag: None,
        }
    }
}

/// Renders parameters as a URL query string (`from=1&to=2`, values escaped), leaving out the absent
/// ones: exactly what the server's `Query` extractor reads back.
pub trait ToQuery: Serialize {
    fn to_query(&self) -> String {
        serde_urlencoded::to_string(self).expect("query parameters are flat structs of scalars")
    }
}

impl ToQuery for HitmapParams {}
impl ToQuery for TxParams {}
impl ToQuery for crate::cube::CubeParams {}
impl ToQuery for crate::cube::ErrorsParams {}
impl ToQuery for crate::compare::CompareParams {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_the_server_reads_back() {
        let h = HitmapParams { from: Some(1), to: Some(2), service: Some("a b&c".into()), ymax: Some(5000.0), scale: Some(Scale::Log), ..Default::default() };
        assert_eq!(h.to_query(), "from=1&to=2&service=a+b%26c&ymax=5000.0&scale=log");
        assert_eq!(serde_urlencoded::from_str::<HitmapParams>(&h.to_query()).unwrap(), h);
        let t = TxParams {
            status: Some(Status::Error),
            error_type: Some("java.io.IOException".into()),
            order: Some(Order::Newest),
            min_ms: Some(0.5),
            cursor: Some("x/y=".into()),
            ..Default::default()
        };
        assert_eq!(t.to_query(), "min_ms=0.5&status=error&error_type=java.io.IOException&order=newest&cursor=x%2Fy%3D");
        assert_eq!(serde_urlencoded::from_str::<TxParams>(&t.to_query()).unwrap(), t);
        assert_eq!(TxParams::default().to_query(), "");
    }
}
