//! Sightline's browser app (Leptos, client-side rendered).

pub mod api;
pub mod app;

pub use app::App;
