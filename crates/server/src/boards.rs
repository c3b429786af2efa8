//! Flex boards, stored durably: the current revision of each board and every saved revision before it.
//!
//! Boards live in their own fjall database in `<data_dir>/boards`, apart from the trace store: they are a
//! handful of small documents written when a user clicks *Save*, and keeping them out of the trace store's
//! keyspaces means retention, the size budget and the group committer never see them. Keyspaces:
//!
//! - `boards`: `id` → JSON of the current revision;
//! - `board_versions`: `id ‖ 0x00 ‖ version (u64 BE)` → JSON of that revision (the `0x00` cannot occur in an
//!   id, so one board's prefix never matches another's; big-endian keeps revisions in order);
//! - `meta`: `seeded` once the default board was created, so deleting every board does not bring it back.
//!
//! Every write is one batch, fsynced before it is acknowledged. Writes are serialised by one lock, so the
//! version check of a save and the save itself cannot interleave with another save.
//!
//! Every method reads or writes the disk: call them through [`crate::blocking::run`] (each asserts it is
//! not on an async worker, so a forgotten one panics in tests).
//!
//! With `--config-db`, boards live in the shared PostgreSQL database instead ([`shared`]), so every node
//! serves the same ones. Handlers use [`Boards`], which is either store: the checks that decide what a
//! save, restore or delete answers are shared functions here, so both stores refuse the same way.

pub mod notes;
pub mod shared;
pub mod templates;

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use sightline_model::{validate, Board, BoardSummary, BOARD_FORMAT_VERSION};

use crate::blocking;
use crate::error::AppError;
use crate::sync;

/// Revisions kept per board; older ones are dropped when a save goes past this.
pub const MAX_VERSIONS: u64 = 500;
/// Ids that would shadow a fixed route under `/api/v1/boards/`.
const RESERVED_IDS: &[&str] = &["templates"];

/// Why a board operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("{0}")]
    NotFound(String),
    /// The save was based on an older revision than the stored one (boxed: a board is large).
    #[error("board {:?} was changed by someone else: you edited version {based_on}, it is now at version {}", .current.id, .current.version)]
    Stale { based_on: u64, current: Box<Board> },
    /// The board breaks the format's rules; every problem is listed.
    #[error("the board is not valid: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The shared configuration database cannot be reached right now (503).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

impl From<BoardError> for AppError {
    fn from(e: BoardError) -> Self {
        let message = e.to_string();
        match e {
            BoardError::NotFound(_) => AppError::NotFound(message),
            BoardError::Stale { current, .. } => AppError::StaleBoard { message, current },
            BoardError::Invalid(problems) => AppError::InvalidBoard(problems),
            BoardError::Unavailable(m) => AppError::Unavailable(m),
            BoardError::Storage(e) => AppError::Internal(e),
        }
    }
}

impl From<crate::config_db::DbError> for BoardError {
    fn from(e: crate::config_db::DbError) -> Self {
        match e {
            crate::config_db::DbError::Unavailable(m) => BoardError::Unavailable(m),
            crate::config_db::DbError::Failed(m) => BoardError::Storage(anyhow::anyhow!(m)),
        }
    }
}

impl From<fjall::Error> for BoardError {
    fn from(e: fjall::Error) -> Self {
        BoardError::Storage(anyhow::Error::new(e).context("board storage"))
    }
}

/// The durable board store; see the module docs.
pub struct BoardStore {
    db: Database,
    boards: Keyspace,
    versions: Keyspace,
    meta: Keyspace,
    write: Mutex<()>,
}

fn version_key(id: &str, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 9);
    k.extend_from_slice(id.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn version_prefix(id: &str) -> Vec<u8> {
    let mut k = id.as_bytes().to_vec();
    k.push(0);
    k
}

fn decode(bytes: &[u8]) -> anyhow::Result<Board> {
    serde_json::from_slice(bytes).context("decoding a stored board")
}

fn encode(b: &Board) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(b).context("encoding a board")
}

/// A new id from the title (`apm-overview-3f9a2c1e`): readable in URLs, random enough not to collide.
fn new_id(title: &str) -> String {
    let mut slug: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    slug = slug.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
    slug.truncate(40);
    let slug = slug.trim_end_matches('-');
    let suffix = format!("{:08x}", rand::random::<u32>());
    if slug.is_empty() {
        format!("board-{suffix}")
    } else {
        format!("{slug}-{suffix}")
    }
}

impl BoardStore {
    /// Opens (or creates) the board store in `dir`; on the very first open it creates the default board.
    pub fn open(dir: &Path, now_ms: i64) -> anyhow::Result<Self> {
        // A handful of small documents written on *Save*.
        let db = crate::store::open_side_database(dir, 4 * 1024 * 1024, "board")?;
        let ks = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default).with_context(|| format!("keyspace {name}"));
        let store = BoardStore {
            boards: ks("boards")?,
            versions: ks("board_versions")?,
            meta: ks("meta")?,
            db,
            write: Mutex::new(()),
        };
        if !store.meta.contains_key("seeded")? {
            let default = templates::default_board();
            store.create(default, now_ms, None).map_err(|e| anyhow::anyhow!("creating the default board: {e}"))?;
            store.meta.insert("seeded", "1")?;
            store.db.persist(PersistMode::SyncAll)?;
            tracing::info!("created the default board");
        }
        Ok(store)
    }

    /// Every board, sorted by title (then id).
    pub fn list(&self) -> Result<Vec<BoardSummary>, BoardError> {
        blocking::assert_off_runtime();
        let mut out = Vec::new();
        for kv in self.boards.iter() {
            let (_, v) = kv.into_inner()?;
            out.push(BoardSummary::from(&decode(&v)?));
        }
        sort_summaries(&mut out);
        Ok(out)
    }

    /// The current revision of a board.
    pub fn get(&self, id: &str) -> Result<Board, BoardError> {
        blocking::assert_off_runtime();
        match self.boards.get(id)? {
            Some(v) => Ok(decode(&v)?),
            None => Err(not_found(id)),
        }
    }

    /// Stores a new board (create, import, duplicate): checked first, nothing is written if anything is
    /// wrong. The id is kept when free; an empty, taken or reserved id gets a new one. Answers the stored
    /// board (version 1). `author` is who saved it (see `Board::author`).
    pub fn create(&self, mut board: Board, now_ms: i64, author: Option<&str>) -> Result<Board, BoardError> {
        blocking::assert_off_runtime();
        let _w = sync::lock(&self.write);
        if needs_new_id(&board.id) || self.boards.contains_key(&board.id)? {
            board.id = loop {
                let id = new_id(&board.title);
                if !self.boards.contains_key(&id)? {
                    break id;
                }
            };
        }
        first_revision(&mut board, now_ms, author)?;
        self.write_revision(&board)?;
        Ok(board)
    }

    /// Saves a new revision of `id`. `board.version` must be the revision the edit was based on; if the
    /// stored one moved on, nothing is written and the current board comes back in [`BoardError::Stale`].
    pub fn update(&self, id: &str, mut board: Board, now_ms: i64, author: Option<&str>) -> Result<Board, BoardError> {
        blocking::assert_off_runtime();
        let _w = sync::lock(&self.write);
        let current = self.get(id)?;
        next_revision(id, &mut board, current, now_ms, author)?;
        self.write_revision(&board)?;
        Ok(board)
    }

    /// Deletes a board and its history. With `based_on`, only if that is still the current revision (so a
    /// board someone just saved is not deleted from a stale screen). `false` if there was no such board.
    pub fn delete(&self, id: &str, based_on: Option<u64>) -> Result<bool, BoardError> {
        blocking::assert_off_runtime();
        let _w = sync::lock(&self.write);
        let current = match self.get(id) {
            Ok(b) => b,
            Err(BoardError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        if let Some(v) = based_on.filter(|v| *v != current.version) {
            return Err(BoardError::Stale { based_on: v, current: Box::new(current) });
        }
        let mut batch = self.db.batch();
        batch.remove(&self.boards, id);
        for kv in self.versions.prefix(version_prefix(id)) {
            batch.remove(&self.versions, kv.key()?);
        }
        batch.commit()?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(true)
    }

    /// Every kept revision of a board, newest first.
    pub fn versions(&self, id: &str) -> Result<Vec<BoardSummary>, BoardError> {
        blocking::assert_off_runtime();
        if !self.boards.contains_key(id)? {
            return Err(not_found(id));
        }
        let mut out = Vec::new();
        for kv in self.versions.prefix(version_prefix(id)) {
            let (_, v) = kv.into_inner()?;
            out.push(BoardSummary::from(&decode(&v)?));
        }
        out.reverse();
        Ok(out)
    }

    /// One kept revision of a board.
    pub fn version(&self, id: &str, version: u64) -> Result<Board, BoardError> {
        blocking::assert_off_runtime();
        match self.versions.get(version_key(id, version))? {
            Some(v) => Ok(decode(&v)?),
            None if self.boards.contains_key(id)? => Err(no_version(id, version)),
            None => Err(not_found(id)),
        }
    }

    /// Makes an old revision current again, as a new revision (history is never rewritten).
    pub fn restore(&self, id: &str, version: u64, now_ms: i64, author: Option<&str>) -> Result<Board, BoardError> {
        blocking::assert_off_runtime();
        let _w = sync::lock(&self.write);
        let current = self.get(id)?;
        let mut board = self.version(id, version)?;
        restored_revision(&mut board, version, &current, now_ms, author)?;
        self.write_revision(&board)?;
        Ok(board)
    }

    /// Writes `board` as current and as a kept revision in one fsynced batch, dropping the revision that
    /// falls out of [`MAX_VERSIONS`].
    fn write_revision(&self, board: &Board) -> Result<(), BoardError> {
        let bytes = encode(board)?;
        let mut batch = self.db.batch();
        batch.insert(&self.boards, board.id.as_str(), bytes.as_slice());
        batch.insert(&self.versions, version_key(&board.id, board.version), bytes.as_slice());
        if board.version > MAX_VERSIONS {
            batch.remove(&self.versions, version_key(&board.id, board.version - MAX_VERSIONS));
        }
        batch.commit()?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Makes everything written durable (writes already are; this is for shutdown symmetry).
    pub fn flush(&self) -> anyhow::Result<()> {
        blocking::assert_off_runtime();
        self.db.persist(PersistMode::SyncAll).context("persisting the boards")
    }
}

/// The boards this server serves: its own fjall database (the default) or the shared configuration
/// database (`--config-db`). Cheap to clone; every method is async and keeps disk work off the runtime.
#[derive(Clone)]
pub enum Boards {
    Embedded(Arc<BoardStore>),
    Shared(Arc<shared::SharedBoards>),
}

/// Runs an embedded store call on the blocking pool: every write fsyncs.
async fn on_disk<T: Send + 'static>(
    store: &Arc<BoardStore>,
    f: impl FnOnce(&BoardStore) -> Result<T, BoardError> + Send + 'static,
) -> Result<T, BoardError> {
    let store = store.clone();
    blocking::spawn("board store", move || f(&store)).await?
}

impl Boards {
    /// Every board, sorted by title (then id).
    pub async fn list(&self) -> Result<Vec<BoardSummary>, BoardError> {
        match self {
            Boards::Embedded(s) => on_disk(s, |s| s.list()).await,
            Boards::Shared(s) => s.list().await,
        }
    }

    /// The current revision of a board.
    pub async fn get(&self, id: &str) -> Result<Board, BoardError> {
        match self {
            Boards::Embedded(s) => {
                let id = id.to_string();
                on_disk(s, move |s| s.get(&id)).await
            }
            Boards::Shared(s) => s.get(id).await,
        }
    }

    /// See [`BoardStore::create`].
    pub async fn create(&self, board: Board, now_ms: i64, author: Option<String>) -> Result<Board, BoardError> {
        match self {
            Boards::Embedded(s) => on_disk(s, move |s| s.create(board, now_ms, author.as_deref())).await,
            Boards::Shared(s) => s.create(board, now_ms, author.as_deref()).await,
        }
    }

    /// See [`BoardStore::update`]: 409 ([`BoardError::Stale`]) when `board.version` is not the current one.
    pub async fn update(&self, id: &str, board: Board, now_ms: i64, author: Option<String>) -> Result<Board, BoardError> {
        match self {
            Boards::Embedded(s) => {
                let id = id.to_string();
                on_disk(s, move |s| s.update(&id, board, now_ms, author.as_deref())).await
            }
            Boards::Shared(s) => s.update(id, board, now_ms, author.as_deref()).await,
        }
    }

    /// See [`BoardStore::delete`].
    pub async fn delete(&self, id: &str, based_on: Option<u64>) -> Result<bool, BoardError> {
        match self {
            Boards::Embedded(s) => {
                let id = id.to_string();
                on_disk(s, move |s| s.delete(&id, based_on)).await
            }
            Boards::Shared(s) => s.delete(id, based_on).await,
        }
    }

    /// Every kept revision of a board, newest first.
    pub async fn versions(&self, id: &str) -> Result<Vec<BoardSummary>, BoardError> {
        match self {
            Boards::Embedded(s) => {
                let id = id.to_string();
                on_disk(s, move |s| s.versions(&id)).await
            }
            Boards::Shared(s) => s.versions(id).await,
        }
    }

    /// One kept revision of a board.
    pub async fn version(&self, id: &str, version: u64) -> Result<Board, BoardError> {
        match self {
            Boards::Embedded(s) => {
                let id = id.to_string();
                on_disk(s, move |s| s.version(&id, version)).await
            }
            Boards::Shared(s) => s.version(id, version).await,
        }
    }

    /// See [`BoardStore::restore`].
    pub async fn restore(&self, id: &str, version: u64, now_ms: i64, author: Option<String>) -> Result<Board, BoardError> {
        match self {
            Boards::Embedded(s) => {
                let id = id.to_string();
                on_disk(s, move |s| s.restore(&id, version, now_ms, author.as_deref())).await
            }
            Boards::Shared(s) => s.restore(id, version, now_ms, author.as_deref()).await,
        }
    }
}

fn not_found(id: &str) -> BoardError {
    BoardError::NotFound(format!("no board {id:?}"))
}

fn no_version(id: &str, version: u64) -> BoardError {
    BoardError::NotFound(format!("board {id:?} has no version {version} (see its versions)"))
}

/// Whether a board being created needs an id of its own (besides one already taken).
fn needs_new_id(id: &str) -> bool {
    id.is_empty() || RESERVED_IDS.contains(&id)
}

/// Every board, sorted for listing: by title (case-insensitively), then id.
fn sort_summaries(out: &mut [BoardSummary]) {
    out.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()).then_with(|| a.id.cmp(&b.id)));
}

/// Stamps a board being created (version 1, now, by `author`) and checks it.
fn first_revision(board: &mut Board, now_ms: i64, author: Option<&str>) -> Result<(), BoardError> {
    board.version = 1;
    board.updated_ms = now_ms;
    board.author = author.map(str::to_string);
    validate(board).map_err(BoardError::Invalid)
}

/// Checks a save of `id` against the stored `current` revision (the body's `version` is the revision the
/// edit was based on) and stamps it as the next revision; both stores answer through this, so their
/// refusals are the same.
fn next_revision(id: &str, board: &mut Board, current: Board, now_ms: i64, author: Option<&str>) -> Result<(), BoardError> {
    if board.id.is_empty() {
        board.id = id.to_string();
    }
    if board.id != id {
        return Err(BoardError::Invalid(vec![format!(
            "the body is board {:?} but the URL is board {id:?}; to copy a board, POST it to /api/v1/boards",
            board.id
        )]));
    }
    if board.version != current.version {
        return Err(BoardError::Stale { based_on: board.version, current: Box::new(current) });
    }
    validate(board).map_err(BoardError::Invalid)?;
    board.version = current.version + 1;
    board.updated_ms = now_ms;
    board.author = author.map(str::to_string);
    Ok(())
}

/// Stamps kept revision `version` as the revision after `current`, if this server can read its format.
fn restored_revision(board: &mut Board, version: u64, current: &Board, now_ms: i64, author: Option<&str>) -> Result<(), BoardError> {
    if board.format_version != BOARD_FORMAT_VERSION {
        return Err(BoardError::Invalid(vec![format!(
            "version {version} is in board format {}, which this server cannot restore",
            board.format_version
        )]));
    }
    board.version = current.version + 1;
    board.updated_ms = now_ms;
    board.author = author.map(str::to_string);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_are_kept_and_ids_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let store = BoardStore::open(dir.path(), 1).unwrap();
        let boards = store.list().unwrap();
        assert_eq!(boards.len(), 1, "the default board");
        let mut b = store.get(&boards[0].id).unwrap();
        // The same id again is a new board, not an overwrite.
        let copy = store.create(b.clone(), 2, None).unwrap();
        assert_ne!(copy.id, b.id);
        assert!(copy.id.starts_with("apm-overview-"), "{}", copy.id);
        b.title = "Renamed".into();
        let saved = store.update(&b.id.clone(), b.clone(), 3, Some("ann")).unwrap();
        assert_eq!((saved.version, saved.updated_ms, saved.author.as_deref()), (2, 3, Some("ann")));
        // Based on version 1 again: stale.
        match store.update(&b.id.clone(), b.clone(), 4, None) {
            Err(BoardError::Stale { based_on: 1, current }) => assert_eq!(current.title, "Renamed"),
            other => panic!("{other:?}"),
        }
        let hist = store.versions(&b.id).unwrap();
        assert_eq!(hist.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(hist.iter().map(|v| v.author.as_deref()).collect::<Vec<_>>(), vec![Some("ann"), None]);
        let restored = store.restore(&b.id, 1, 5, Some("bob")).unwrap();
        assert_eq!((restored.version, restored.title.as_str(), restored.author.as_deref()), (3, "APM overview", Some("bob")));
        // A board named like a prefix of another keeps its own history.
        let mut short = b.clone();
        short.id = "apm".into();
        let short = store.create(short, 6, None).unwrap();
        assert_eq!(short.id, "apm");
        assert_eq!(store.versions("apm").unwrap().len(), 1);
        assert!(store.delete(&b.id, None).unwrap());
        assert!(matches!(store.version(&b.id, 1), Err(BoardError::NotFound(_))));
        assert!(!store.delete(&b.id, None).unwrap());
        drop(store);
        // Deleting everything does not bring the default board back.
        let store = BoardStore::open(dir.path(), 7).unwrap();
        for s in store.list().unwrap() {
            store.delete(&s.id, Some(s.version)).unwrap();
        }
        drop(store);
        assert!(BoardStore::open(dir.path(), 8).unwrap().list().unwrap().is_empty());
    }

    #[test]
    fn ids_are_slugs_of_the_title() {
        let id = new_id("  Payments — p95 / errors!! ");
        assert!(id.starts_with("payments-p95-errors-"), "{id}");
        assert!(new_id("—").starts_with("board-"));
    }
}
