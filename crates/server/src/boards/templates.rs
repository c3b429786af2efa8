//! The boards a user can start from ("APM overview", "Database overview", "Servers"), and the default board
//! created on first start, so a new install opens on something useful instead of an empty page.

use std::collections::BTreeMap;

use sightline_model::{
    Board, BoardTime, SeriesStyle, Threshold, Variable, Widget, WidgetKind, WidgetOptions, WidgetQuery,
    BOARD_FORMAT_VERSION,
};

fn q(metric: &str, filter: &[(&str, &str)], group_by: &[&str]) -> Option<WidgetQuery> {
    Some(WidgetQuery {
        metric: metric.into(),
        filter: filter.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        group_by: group_by.iter().map(|s| s.to_string()).collect(),
    })
}

#[allow(clippy::too_many_arguments)]
fn w(id: &str, kind: WidgetKind, title: &str, (x, y, wd, h): (u32, u32, u32, u32), query: Option<WidgetQuery>, options: WidgetOptions) -> Widget {
    Widget { id: id.into(), kind, title: title.into(), x, y, w: wd, h, query, options }
}

fn board(id: &str, title: &str, variables: Vec<Variable>, widgets: Vec<Widget>) -> Board {
    Board {
        format_version: BOARD_FORMAT_VERSION,
        id: id.into(),
        title: title.into(),
        version: 0,
        updated_ms: 0,
        author: None,
        time: BoardTime::default(),
        variables,
        widgets,
    }
}

fn service_variable() -> Vec<Variable> {
    vec![Variable { name: "service".into(), label: "Service".into(), value: None }]
}

fn note(text: &str) -> WidgetOptions {
    WidgetOptions { text: Some(text.into()), ..Default::default() }
}

/// Throughput, response times, errors and the hitmap, per service.
pub fn apm_overview() -> Board {
    use WidgetKind::*;
    let svc = [("service", "$service")];
    board(
        "apm-overview",
        "APM overview",
        service_variable(),
        vec![
            w("tps", SingleNumber, "Throughput (tps)", (0, 0, 6, 4), q("transactions.tps", &svc, &[]), WidgetOptions { sparkline: true, ..Default::default() }),
            w("p95", SingleNumber, "p95 response time", (6, 0, 6, 4), q("transactions.response_time.p95", &svc, &[]), WidgetOptions {
                sparkline: true,
                thresholds: vec![Threshold { value: 500.0, color: "warn".into() }, Threshold { value: 2000.0, color: "bad".into() }],
                ..Default::default()
            }),
            w("error-rate", SingleNumber, "Error rate", (12, 0, 6, 4), q("transactions.error_rate", &svc, &[]), WidgetOptions {
                sparkline: true,
                thresholds: vec![Threshold { value: 0.01, color: "warn".into() }, Threshold { value: 0.05, color: "bad".into() }],
                ..Default::default()
            }),
            w("errors", SingleNumber, "Errors", (18, 0, 6, 4), q("transactions.errors", &svc, &[]), WidgetOptions { sparkline: true, ..Default::default() }),
            w("tps-by-service", Timeseries, "Throughput by service", (0, 4, 12, 8), q("transactions.tps", &svc, &["service"]), WidgetOptions {
                style: Some(SeriesStyle::Area),
                stacked: true,
                ..Default::default()
            }),
            w("p95-by-service", Timeseries, "p95 response time by service", (12, 4, 12, 8), q("transactions.response_time.p95", &svc, &["service"]), WidgetOptions {
                style: Some(SeriesStyle::Line),
                ..Default::default()
            }),
            w("hitmap", Hitmap, "Response times", (0, 12, 24, 10), None, WidgetOptions::default()),
            w("slowest", TopN, "Slowest endpoints (p95)", (0, 22, 12, 8), q("transactions.response_time.p95", &svc, &["endpoint"]), WidgetOptions { limit: Some(10), ..Default::default() }),
            w("most-errors", TopN, "Most errors", (12, 22, 12, 8), q("transactions.errors", &svc, &["endpoint"]), WidgetOptions { limit: Some(10), ..Default::default() }),
        ],
    )
}

/// Sessions, throughput, locks and cache efficiency of the monitored databases.
pub fn database_overview() -> Board {
    use WidgetKind::*;
    let inst = [("instance", "$instance")];
    board(
        "database-overview",
        "Database overview",
        vec![Variable { name: "instance".into(), label: "Instance".into(), value: None }],
        vec![
            w("sessions", DbActiveSessions, "Active sessions now", (0, 0, 12, 8), q("db.sessions.active", &inst, &[]), WidgetOptions::default()),
            w("by-wait", Timeseries, "Active sessions by wait class", (12, 0, 12, 8), q("db.sessions.active", &inst, &["wait_class"]), WidgetOptions {
                style: Some(SeriesStyle::Area),
                stacked: true,
                ..Default::default()
            }),
            w("runtime", Timeseries, "Total runtime of active sessions", (0, 8, 12, 8), q("db.total_runtime", &inst, &["instance"]), WidgetOptions::default()),
            w("db-tps", Timeseries, "Transactions per second", (12, 8, 12, 8), q("db.tps", &inst, &["instance"]), WidgetOptions::default()),
            w("hit-ratio", SingleNumber, "Buffer cache hit ratio", (0, 16, 6, 4), q("db.buffer_hit_ratio", &inst, &[]), WidgetOptions {
                sparkline: true,
                thresholds: vec![Threshold { value: 0.0, color: "bad".into() }, Threshold { value: 0.9, color: "warn".into() }, Threshold { value: 0.99, color: "ok".into() }],
                ..Default::default()
            }),
            w("connections", SingleNumber, "Connections", (6, 16, 6, 4), q("db.connections", &inst, &[]), WidgetOptions { sparkline: true, ..Default::default() }),
            w("locks", Bar, "Sessions waiting on locks", (12, 16, 12, 8), q("db.locks.waiting", &inst, &["instance"]), WidgetOptions::default()),
            w("about", Text, "", (0, 20, 12, 4), None, note("Database metrics come from the instances Sightline monitors (`--postgres`). The **Database** page has the lock tree and the top statements.")),
        ],
    )
}

/// CPU and memory of the monitored hosts and their processes.
pub fn servers() -> Board {
    use WidgetKind::*;
    board(
        "servers",
        "Servers",
        vec![Variable { name: "host".into(), label: "Host".into(), value: None }],
        vec![
            w("cpu", Timeseries, "CPU", (0, 0, 12, 8), q("host.cpu.usage", &[("host", "$host")], &["host"]), WidgetOptions::default()),
            w("memory", Timeseries, "Memory used", (12, 0, 12, 8), q("host.memory.used", &[("host", "$host")], &["host"]), WidgetOptions {
                style: Some(SeriesStyle::Area),
                ..Default::default()
            }),
            w("processes", ProcessCpuMem, "Processes now", (0, 8, 24, 12), None, WidgetOptions::default()),
            w("process-cpu", Timeseries, "CPU by process", (0, 20, 12, 8), q("process.cpu.usage", &[("host", "$host")], &["process"]), WidgetOptions {
                limit: Some(8),
                ..Default::default()
            }),
            w("process-rss", Timeseries, "Resident memory by process", (12, 20, 12, 8), q("process.memory.rss", &[("host", "$host")], &["process"]), WidgetOptions {
                style: Some(SeriesStyle::Area),
                stacked: true,
                limit: Some(8),
                ..Default::default()
            }),
            w("about", Text, "", (0, 28, 24, 2), None, note("The machine Sightline runs on, sampled every 5 s by its host collector (`--host-collector=false` turns it off).")),
        ],
    )
}

/// Every template, in the order the board list offers them.
pub fn all() -> Vec<Board> {
    vec![apm_overview(), database_overview(), servers()]
}

/// The board created on first start: the APM overview, which shows data as soon as traces arrive.
pub fn default_board() -> Board {
    let mut b = apm_overview();
    b.id = "overview".into();
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid_and_compact() {
        for t in all() {
            assert_eq!(sightline_model::validate(&t), Ok(()), "{}", t.title);
            let mut ws = t.widgets.clone();
            sightline_model::compact(&mut ws);
            assert_eq!(ws, t.widgets, "{} has gaps", t.title);
        }
    }
}
