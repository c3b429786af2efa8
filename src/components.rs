//! Reusable pieces of UI shared by several pages.

pub mod board_grid;
pub mod board_widget;
pub mod copy_button;
pub mod deploy_markers;
pub mod error_view;
pub mod firing_badge;
pub mod history_note;
pub mod hitmap_chart;
pub mod metric_chart;
pub mod rollup_note;
pub mod share_links;
pub mod top_bar;
pub mod trace_view;
pub mod user_menu;
pub mod widget_editor;
