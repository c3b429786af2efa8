//! Board import (`POST /api/v1/boards` with a board JSON file): the body as the handler reads it (any JSON,
//! then a `Board`), the format's validation, and for a valid board what the store and the app then do with
//! it: store it as JSON and read it back (must be the same board), diff it against a template, lay it out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_model::{compact, diff, free_slot, validate, Board};
use sightline_server::api::boards::parse;
use sightline_server::boards::templates;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(board) = parse(body) else { return };
    if validate(&board).is_err() {
        return;
    }
    let stored = serde_json::to_vec(&board).expect("a valid board encodes");
    let back: Board = serde_json::from_slice(&stored).expect("a stored board decodes");
    assert_eq!(back, board, "a stored board reads back unchanged");
    let template = templates::default_board();
    let _ = diff(&template, &board).summary(&template, &board);
    let _ = diff(&board, &template).summary(&board, &template);
    let mut widgets = board.widgets.clone();
    compact(&mut widgets);
    let _ = free_slot(&widgets, 4, 3);
});
