//! `POST /api/v1/notes/render`: a board note's Markdown as safe HTML ([`crate::boards::notes`]), for the
//! app's text widgets and the widget editor's preview. A POST because a note can be longer than a URL;
//! it reads and changes nothing, so anyone who may see a board may ask (a share link too).

use axum::Json;
use sightline_model::{NoteHtml, NoteMarkdown};

use crate::blocking;
use crate::boards::notes::{render, MAX_NOTE_BYTES};
use crate::error::{ApiResult, AppError, JsonBody};

pub async fn render_note(JsonBody(note): JsonBody<NoteMarkdown>) -> ApiResult<NoteHtml> {
    if note.text.len() > MAX_NOTE_BYTES {
        return Err(AppError::BadRequest(format!("a note is at most {} KiB of Markdown", MAX_NOTE_BYTES / 1024)));
    }
    // Linear in the note, but a note can be a quarter of a megabyte: off the async workers.
    let html = blocking::run("rendering a note", move || Ok::<_, AppError>(render(&note.text))).await?;
    Ok(Json(NoteHtml { html }))
}
