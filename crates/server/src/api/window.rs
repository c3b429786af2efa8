//! The time parameters handlers share, read and checked in one place so every endpoint answers a bad
//! window the same way: a window `?from=&to=` ([`Within`] → [`Window`]) and a moment `?at=` ([`At`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;

use crate::error::{AppError, Query};
use crate::store::now_ms;

/// Default span of the windows of the hitmap, the transactions, the services and the database page.
pub const FIFTEEN_MINUTES: i64 = 15 * 60_000;
/// Default span of metric series and deploy markers (a board's default range).
pub const ONE_HOUR: i64 = 60 * 60_000;

/// A time window `[from, to)` in ms since the epoch, with `from < to`: [`Window::new`] is the only way to
/// make one, so code handed a `Window` never checks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    from: i64,
    to: i64,
}

impl Window {
    /// The window `[from, to)`, or the one message every endpoint answers an empty or inverted window with.
    pub fn new(from: i64, to: i64) -> Result<Window, AppError> {
        match from < to {
            true => Ok(Window { from, to }),
            false => Err(AppError::BadRequest(format!("from ({from}) must be before to ({to})"))),
        }
    }

    pub fn from(self) -> i64 {
        self.from
    }

    pub fn to(self) -> i64 {
        self.to
    }
}

/// `?from=&to=` as sent; both optional.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct WindowParams {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl WindowParams {
    /// The window asked for: `to` defaults to `now_ms`, `from` to `default_span_ms` before `to`.
    pub fn resolve(self, default_span_ms: i64, now_ms: i64) -> Result<Window, AppError> {
        let to = self.to.unwrap_or(now_ms);
        Window::new(self.from.unwrap_or(to.saturating_sub(default_span_ms)), to)
    }
}

/// Extractor of the checked window of a request, `DEFAULT_SPAN_MS` long and ending now when `from`/`to`
/// are not given; an inverted window is answered 400 before the handler runs. (An endpoint whose default
/// depends on the state reads [`WindowParams`] and calls [`WindowParams::resolve`] itself.)
#[derive(Debug, Clone, Copy)]
pub struct Within<const DEFAULT_SPAN_MS: i64 = FIFTEEN_MINUTES>(pub Window);

impl<S: Send + Sync, const DEFAULT_SPAN_MS: i64> FromRequestParts<S> for Within<DEFAULT_SPAN_MS> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Query(p) = Query::<WindowParams>::from_request_parts(parts, state).await?;
        p.resolve(DEFAULT_SPAN_MS, now_ms()).map(Within)
    }
}

/// Extractor of `?at=` (ms since the epoch): the moment a point-in-time endpoint shows; `None` = the newest.
#[derive(Debug, Clone, Copy)]
pub struct At(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for At {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        #[derive(Deserialize)]
        struct AtParams {
            at: Option<i64>,
        }
        let Query(p) = Query::<AtParams>::from_request_parts(parts, state).await?;
        Ok(At(p.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_one_check() {
        let now = 1_000_000;
        let w = WindowParams::default().resolve(FIFTEEN_MINUTES, now).unwrap();
        assert_eq!((w.from(), w.to()), (now - FIFTEEN_MINUTES, now));
        let w = WindowParams { from: None, to: Some(5_000_000) }.resolve(ONE_HOUR, now).unwrap();
        assert_eq!(w.from(), 5_000_000 - ONE_HOUR);
        for (from, to) in [(now, now), (now + 1, now)] {
            let e = WindowParams { from: Some(from), to: Some(to) }.resolve(ONE_HOUR, now).unwrap_err();
            assert_eq!(e.to_string(), format!("from ({from}) must be before to ({to})"));
        }
        // A `from` after the default `to` (now) is inverted too.
        assert!(WindowParams { from: Some(now + 1), to: None }.resolve(ONE_HOUR, now).is_err());
    }
}
