//! The dialog for a save refused because someone else saved first.

use leptos::prelude::*;
use sightline_model::{diff, Board};

use crate::format::clock;

/// A save refused because someone else saved first: what they changed, what the user changed, and the three
/// ways out.
#[component]
pub fn ConflictDialog(
    base: Board,
    current: Board,
    mine: Board,
    on_reload: Callback<()>,
    on_copy: Callback<()>,
    on_overwrite: Callback<()>,
) -> impl IntoView {
    let theirs = diff(&base, &current).summary(&base, &current);
    let ours = diff(&base, &mine).summary(&base, &mine);
    let when = clock(current.updated_ms);
    view! {
        <div class="modal-backdrop">
            <div class="modal conflict" role="alertdialog" aria-label="Save conflict" data-testid="conflict">
                <h2>"Someone else saved this board"</h2>
                <p>{format!(
                    "You started from version {}; version {} was saved at {when}. Saving now would overwrite their changes.",
                    base.version, current.version
                )}</p>
                <div class="diff-columns">
                    <div>
                        <h3>"Their changes"</h3>
                        <ul data-testid="conflict-theirs">
                            {if theirs.is_empty() { vec!["nothing you can see (same layout and queries)".to_string()] } else { theirs }
                                .into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                        </ul>
                    </div>
                    <div>
                        <h3>"Your changes"</h3>
                        <ul data-testid="conflict-mine">
                            {ours.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                        </ul>
                    </div>
                </div>
                <div class="modal-actions">
                    <button data-testid="conflict-reload" on:click=move |_| on_reload.run(())>"Reload theirs (drop mine)"</button>
                    <button data-testid="conflict-copy" on:click=move |_| on_copy.run(())>"Save mine as a copy"</button>
                    <button class="danger" data-testid="conflict-overwrite" on:click=move |_| on_overwrite.run(())>"Overwrite theirs"</button>
                </div>
            </div>
        </div>
    }
}

