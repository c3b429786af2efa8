//! How times and durations read on screen (local time zone, as the operator's clock shows it).

/// `HH:MM:SS` in local time.
pub fn clock(ms: i64) -> String {
    let d = js_sys::Date::new(&(ms as f64).into());
    format!("{:02}:{:02}:{:02}", d.get_hours(), d.get_minutes(), d.get_seconds())
}

/// `YYYY-MM-DDTHH:MM:SS` in local time: the value format of `<input type=datetime-local>`.
pub fn datetime_local(ms: i64) -> String {
    let d = js_sys::Date::new(&(ms as f64).into());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

/// Parses a `datetime-local` value (local time) into epoch ms.
pub fn parse_datetime_local(s: &str) -> Option<i64> {
    if s.len() < 16 {
        return None;
    }
    let t = js_sys::Date::new(&s.into()).get_time();
    t.is_finite().then_some(t as i64)
}

/// A duration for people: `850 ms`, `3.02 s`, `2 min 5 s`.
pub fn duration(ms: f64) -> String {
    if ms < 1.0 {
        format!("{:.2} ms", ms)
    } else if ms < 1000.0 {
        format!("{:.0} ms", ms)
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        let s = (ms / 1000.0).round() as i64;
        format!("{} min {} s", s / 60, s % 60)
    }
}

/// `YYYY-MM-DD HH:MM:SS` in local time: when something happened, in tables.
pub fn date_time(ms: i64) -> String {
    datetime_local(ms).replacen('T', " ", 1)
}
