//! Reusable pieces of UI shared by several pages.

pub mod error_view;
pub mod hitmap_chart;
pub mod metric_chart;
pub mod top_bar;
pub mod trace_view;
