//! Which facts a batch of stored spans contributes to the cube.

use sightline_model::CubeDim;

use super::{Fact, FactKind};
use crate::store::record::SpanRecord;

/// The facts of the finished transactions among `spans` (SQL steps: to do).
pub fn facts(spans: &[SpanRecord]) -> Vec<Fact> {
    spans
        .iter()
        .filter(|s| s.is_transaction && !s.in_flight())
        .map(|s| {
            let mut dims: [String; CubeDim::ALL.len()] = Default::default();
            dims[CubeDim::Service as usize] = s.service.clone();
            dims[CubeDim::Endpoint as usize] = s.name.clone();
            dims[CubeDim::Status as usize] = if s.error { "error" } else { "ok" }.to_string();
            if let Some(f) = s.failure.as_ref().filter(|_| s.error) {
                dims[CubeDim::ErrorType as usize] = f.kind.clone().unwrap_or_default();
                dims[CubeDim::ErrorMessage as usize] = f.message.clone().unwrap_or_default();
            }
            Fact { kind: FactKind::Transaction, end_ms: s.end_ms(), duration_ms: s.duration_ms(), error: s.error, dims }
        })
        .collect()
}
