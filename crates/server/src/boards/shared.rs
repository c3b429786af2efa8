//! Boards in the shared configuration database (`--config-db`), for several nodes serving the same boards.
//!
//! Tables (created by [`crate::config_db`]): `boards` (`id`, `version`, `doc`: the current revision's
//! JSON) and `board_versions` (`id`, `version`, `doc`: every kept revision; deleted with its board by the
//! foreign key's cascade). The JSON is the same document the embedded store keeps, so the API answers
//! are byte for byte the same.
//!
//! Optimistic concurrency across nodes is a compare-and-set: a save reads the current revision, runs the
//! same checks as the embedded store ([`super::next_revision`]: 409 with the current board when stale),
//! then writes with `UPDATE boards … WHERE id = $1 AND version = $2` and its revision row in one
//! transaction. A save on another node between the read and the write makes the `UPDATE` touch no row:
//! the transaction is rolled back and the answer is the 409 with the board as that other save left it.

use std::sync::Arc;

use anyhow::Context;
use sightline_model::{Board, BoardSummary};
use tokio_postgres::GenericClient;

use super::{first_revision, needs_new_id, new_id, next_revision, no_version, not_found, restored_revision, sort_summaries};
use super::{templates, BoardError, MAX_VERSIONS};
use crate::config_db::ConfigDb;

/// Restores retried when another node saved the board in between (a restore is not based on a revision
/// the user saw, so it simply goes on top of the newest one).
const RESTORE_ATTEMPTS: usize = 5;

/// The boards in the configuration database; see the module docs.
pub struct SharedBoards {
    db: Arc<ConfigDb>,
}

/// A board decoded from a row; a row that is not a board is a storage error (500), not a missing board.
fn decode(doc: &str) -> Result<Board, BoardError> {
    Ok(serde_json::from_str(doc).context("decoding a stored board")?)
}

fn encode(b: &Board) -> Result<String, BoardError> {
    Ok(serde_json::to_string(b).context("encoding a board")?)
}

/// Revision numbers are `u64` in the API, `bigint` in the table.
fn sql_version(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The outcome of an operation: the database's errors outside, the board rules' answers inside.
type Outcome<T> = Result<Result<T, BoardError>, tokio_postgres::Error>;

async fn current(c: &impl GenericClient, id: &str) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(c.query_opt("SELECT doc FROM boards WHERE id = $1", &[&id]).await?.map(|r| r.get(0)))
}

/// Inserts revision `doc` of `board` into the history, dropping the one that falls out of [`MAX_VERSIONS`].
async fn keep_revision(tx: &tokio_postgres::Transaction<'_>, board: &Board, doc: &str) -> Result<(), tokio_postgres::Error> {
    let v = sql_version(board.version);
    tx.execute("INSERT INTO board_versions (id, version, doc) VALUES ($1, $2, $3)", &[&board.id, &v, &doc]).await?;
    if board.version > MAX_VERSIONS {
        let old = sql_version(board.version - MAX_VERSIONS);
        tx.execute("DELETE FROM board_versions WHERE id = $1 AND version <= $2", &[&board.id, &old]).await?;
    }
    Ok(())
}

/// Runs `sql`, a write guarded so that it touches no row when another save came first, and the revision it
/// makes, in one transaction: `Ok(false)` when the guard held it back (nothing written).
async fn guarded_write(
    c: &mut tokio_postgres::Client,
    board: &Board,
    doc: &str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<bool, tokio_postgres::Error> {
    let tx = c.transaction().await?;
    if tx.execute(sql, params).await? == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    keep_revision(&tx, board, doc).await?;
    tx.commit().await?;
    Ok(true)
}

/// Writes `board` (already checked and stamped as the revision after `based_on`) if the stored revision is
/// still `based_on`: `Ok(false)` when another save came first (nothing written).
async fn compare_and_set(c: &mut tokio_postgres::Client, board: &Board, doc: &str, based_on: u64) -> Result<bool, tokio_postgres::Error> {
    let (v, old) = (sql_version(board.version), sql_version(based_on));
    guarded_write(c, board, doc, "UPDATE boards SET version = $3, doc = $4 WHERE id = $1 AND version = $2", &[&board.id, &old, &v, &doc]).await
}

/// The answer to a compare-and-set that lost: the board as the other save left it (409), or 404 if it
/// was deleted meanwhile.
async fn lost_race(c: &tokio_postgres::Client, id: &str, based_on: u64) -> Outcome<Board> {
    Ok(match current(c, id).await? {
        Some(doc) => decode(&doc).and_then(|current| Err(BoardError::Stale { based_on, current: Box::new(current) })),
        None => Err(not_found(id)),
    })
}

/// Inserts a new board, or answers `Ok(false)` when its id is taken (nothing written).
async fn insert_new(c: &mut tokio_postgres::Client, board: &Board, doc: &str) -> Result<bool, tokio_postgres::Error> {
    let v = sql_version(board.version);
    guarded_write(c, board, doc, "INSERT INTO boards (id, version, doc) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING", &[&board.id, &v, &doc]).await
}

impl SharedBoards {
    /// Uses the (migrated) configuration database; the very first node to start on it creates the default
    /// board, once per database (deleting every board does not bring it back, as with the embedded store).
    pub async fn open(db: Arc<ConfigDb>, now_ms: i64) -> anyhow::Result<Self> {
        let mut board = templates::default_board();
        first_revision(&mut board, now_ms, None).map_err(|e| anyhow::anyhow!("creating the default board: {e}"))?;
        let doc = encode(&board).map_err(|e| anyhow::anyhow!("{e}"))?;
        let seeded = db
            .once("boards_seeded", move |tx| {
                Box::pin(async move {
                    let v = sql_version(board.version);
                    let n = tx
                        .execute("INSERT INTO boards (id, version, doc) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING", &[&board.id, &v, &doc])
                        .await?;
                    if n == 1 {
                        keep_revision(tx, &board, &doc).await?;
                    }
                    Ok(())
                })
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if seeded {
            tracing::info!("created the default board in the configuration database");
        }
        Ok(SharedBoards { db })
    }

    pub async fn list(&self) -> Result<Vec<BoardSummary>, BoardError> {
        let docs: Vec<String> = self
            .db
            .with_conn("listing the boards", move |c| {
                Box::pin(async move { Ok(c.query("SELECT doc FROM boards", &[]).await?.iter().map(|r| r.get(0)).collect()) })
            })
            .await?;
        let mut out = docs.iter().map(|d| decode(d).map(|b| BoardSummary::from(&b))).collect::<Result<Vec<_>, _>>()?;
        sort_summaries(&mut out);
        Ok(out)
    }

    pub async fn get(&self, id: &str) -> Result<Board, BoardError> {
        let key = id.to_string();
        let doc = self.db.with_conn("reading a board", move |c| Box::pin(async move { current(&*c, &key).await })).await?;
        match doc {
            Some(doc) => decode(&doc),
            None => Err(not_found(id)),
        }
    }

    pub async fn create(&self, mut board: Board, now_ms: i64, author: Option<&str>) -> Result<Board, BoardError> {
        let mut fresh_id = needs_new_id(&board.id);
        loop {
            if fresh_id {
                board.id = new_id(&board.title);
            }
            first_revision(&mut board, now_ms, author)?;
            let doc = encode(&board)?;
            let b = board.clone();
            let inserted = self.db.with_conn("creating a board", move |c| Box::pin(async move { insert_new(c, &b, &doc).await })).await?;
            if inserted {
                return Ok(board);
            }
            // Taken (by another board, or a node that picked the same random id): a new one.
            fresh_id = true;
        }
    }

    pub async fn update(&self, id: &str, mut board: Board, now_ms: i64, author: Option<&str>) -> Result<Board, BoardError> {
        let current = self.get(id).await?;
        let based_on = board.version;
        next_revision(id, &mut board, current, now_ms, author)?;
        self.write_after(board, based_on).await
    }

    /// Compare-and-set of a checked revision; the 409 of a lost race carries the winner's board.
    async fn write_after(&self, board: Board, based_on: u64) -> Result<Board, BoardError> {
        let doc = encode(&board)?;
        let b = board.clone();
        let outcome = self
            .db
            .with_conn("saving a board", move |c| {
                Box::pin(async move {
                    match compare_and_set(c, &b, &doc, based_on).await? {
                        true => Ok(Ok(())),
                        false => lost_race(&*c, &b.id, based_on).await.map(|r| r.map(|_| ())),
                    }
                })
            })
            .await?;
        outcome.map(|()| board)
    }

    pub async fn delete(&self, id: &str, based_on: Option<u64>) -> Result<bool, BoardError> {
        let key = id.to_string();
        let outcome = self
            .db
            .with_conn("deleting a board", move |c| {
                Box::pin(async move {
                    let n = match based_on {
                        None => c.execute("DELETE FROM boards WHERE id = $1", &[&key]).await?,
                        Some(v) => c.execute("DELETE FROM boards WHERE id = $1 AND version = $2", &[&key, &sql_version(v)]).await?,
                    };
                    match (n, based_on) {
                        (0, Some(v)) => Ok(match current(&*c, &key).await? {
                            // Still there, at another revision: stale, as with the embedded store.
                            Some(doc) => decode(&doc).and_then(|cur| Err(BoardError::Stale { based_on: v, current: Box::new(cur) })),
                            None => Ok(false),
                        }),
                        (n, _) => Ok(Ok(n > 0)),
                    }
                })
            })
            .await?;
        outcome
    }

    pub async fn versions(&self, id: &str) -> Result<Vec<BoardSummary>, BoardError> {
        let key = id.to_string();
        let docs: Option<Vec<String>> = self
            .db
            .with_conn("reading a board's history", move |c| {
                Box::pin(async move {
                    // One snapshot, so a delete in between cannot give "exists" and an empty history.
                    let tx = c.build_transaction().read_only(true).isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).start().await?;
                    if current(&tx, &key).await?.is_none() {
                        return Ok(None);
                    }
                    let rows = tx.query("SELECT doc FROM board_versions WHERE id = $1 ORDER BY version DESC", &[&key]).await?;
                    tx.commit().await?;
                    Ok(Some(rows.iter().map(|r| r.get(0)).collect()))
                })
            })
            .await?;
        match docs {
            Some(docs) => docs.iter().map(|d| decode(d).map(|b| BoardSummary::from(&b))).collect(),
            None => Err(not_found(id)),
        }
    }

    pub async fn version(&self, id: &str, version: u64) -> Result<Board, BoardError> {
        let key = id.to_string();
        let (doc, exists) = self
            .db
            .with_conn("reading a board revision", move |c| {
                Box::pin(async move {
                    let doc: Option<String> = c
                        .query_opt("SELECT doc FROM board_versions WHERE id = $1 AND version = $2", &[&key, &sql_version(version)])
                        .await?
                        .map(|r| r.get(0));
                    let exists = match doc {
                        Some(_) => true,
                        None => current(&*c, &key).await?.is_some(),
                    };
                    Ok((doc, exists))
                })
            })
            .await?;
        match (doc, exists) {
            (Some(doc), _) => decode(&doc),
            (None, true) => Err(no_version(id, version)),
            (None, false) => Err(not_found(id)),
        }
    }

    pub async fn restore(&self, id: &str, version: u64, now_ms: i64, author: Option<&str>) -> Result<Board, BoardError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.get(id).await?;
            let mut board = self.version(id, version).await?;
            let based_on = current.version;
            restored_revision(&mut board, version, &current, now_ms, author)?;
            match self.write_after(board, based_on).await {
                Err(BoardError::Stale { .. }) if attempt < RESTORE_ATTEMPTS => continue,
                other => return other,
            }
        }
    }
}
