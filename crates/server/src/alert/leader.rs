//! With `--config-db`, one node evaluates the alert rules and delivers the messages: the one holding a
//! PostgreSQL advisory lock (`pg_try_advisory_lock`) on a connection of its own. Every node tries to take
//! it every [`EVERY`]; PostgreSQL releases it when the holder's connection ends (the node stopped, died, or
//! lost the network), and the next node to try becomes the leader: it reads the instances and the outbox
//! the old leader wrote (so it neither re-sends nor forgets) and starts evaluating and delivering. The
//! leader checks its connection every [`EVERY`] and steps down as soon as it is gone.
//!
//! Every node, leader or not, refreshes its memory from the database on the same tick (and each alert
//! request does too), so the pages of any node show the rules, states and silences of all.
//!
//! Delivery is at least once, as on one node: a leader cut off from the database keeps sending what it had
//! taken for up to one tick after its lock is gone, so a message may go out twice across a hand-over.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::Client;

use super::Alerts;

/// How often a node tries to lead (or checks that it still does) and refreshes its memory.
pub const EVERY: Duration = Duration::from_secs(2);

/// Runs the election until `stop` turns true; see the module docs.
pub fn spawn(alerts: Arc<Alerts>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            if *stop.borrow() {
                return;
            }
            let Some(shared) = alerts.store.shared() else { return };
            let outcome = match shared.try_lead().await {
                Ok(Some(client)) => lead_while_held(&alerts, &client, &mut stop).await,
                Ok(None) => alerts.refresh().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            // One line per outage, not one per tick.
            match (outcome, failing) {
                (Err(e), false) => {
                    tracing::warn!(error = %e, "alerts: cannot reach the configuration database; retrying");
                    failing = true;
                }
                (Ok(()), true) => failing = false,
                _ => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

/// Leads while `client` holds the lock (and the server runs): takes over the state, evaluates and
/// delivers, refreshes the rules every tick; then stops evaluating and delivering.
async fn lead_while_held(alerts: &Arc<Alerts>, client: &Client, stop: &mut watch::Receiver<bool>) -> Result<(), String> {
    let Some(shared) = alerts.store.shared() else { return Ok(()) };
    alerts.store.refresh(true).await.map_err(|e| e.to_string())?;
    if !alerts.store.leading() {
        // A local write raced the take-over read: try again on the next tick.
        return Ok(());
    }
    tracing::info!("alerts: this node evaluates the rules and delivers (it holds the leader lock)");
    let (term, term_rx) = watch::channel(false);
    alerts.lead(term_rx);
    let mut result = Ok(());
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        if !shared.still_leading(client).await {
            tracing::warn!("alerts: lost the leader lock (its connection ended); another node takes over");
            result = Err("the leader connection ended".to_string());
            break;
        }
        if let Err(e) = alerts.refresh().await {
            tracing::warn!(error = %e, "alerts: cannot refresh the rules from the configuration database");
        }
    }
    let _ = term.send(true);
    alerts.stop_leading();
    alerts.store.follow();
    result
}
