//! One routed page per file.

pub mod admin;
pub mod alerts;
pub mod apm;
pub mod board;
pub mod boards;
pub mod cube;
pub mod db;
pub mod errors;
pub mod not_found;
pub mod servers;
pub mod sign_in;
