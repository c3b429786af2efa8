//! Sightline's browser app (Leptos, client-side rendered). `api` is the only module that talks to the
//! server; `pages` own their data; `hooks` hold browser behaviour; `components` are shared UI.

pub mod api;
pub mod app;
pub mod components;
pub mod format;
pub mod hooks;
pub mod pages;
pub mod sort;

pub use app::App;
