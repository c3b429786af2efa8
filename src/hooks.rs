//! Browser behaviour as small `use_*` hooks (leptos-use style), one file each.

mod use_board_draft;
mod use_chart_canvas;
mod use_copy_to_clipboard;
mod use_debounced;
mod use_event_stream;
mod use_first_paint;
mod use_grid_drag;
mod use_hitmap_canvas;
mod use_live_hitmap;
mod use_polled_resource;
mod use_server_health;
mod use_session;
mod use_theme;
mod use_time_brush;
mod use_time_range;
mod use_virtual_list;

pub use use_board_draft::*;
pub use use_chart_canvas::*;
pub use use_copy_to_clipboard::*;
pub use use_debounced::*;
pub use use_event_stream::*;
pub use use_first_paint::*;
pub use use_grid_drag::*;
pub use use_hitmap_canvas::*;
pub use use_live_hitmap::*;
pub use use_polled_resource::*;
pub use use_server_health::*;
pub use use_session::*;
pub use use_theme::*;
pub use use_time_brush::*;
pub use use_time_range::*;
pub use use_virtual_list::*;
