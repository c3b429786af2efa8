//! Sightline's browser app entry: panic hook, then mount.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(sightline_app::App);
}
