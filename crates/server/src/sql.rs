//! SQL text as Sightline compares and groups it: one normalisation shared by the PostgreSQL collector
//! (matching sampled sessions to a trace's SQL steps) and the cube (the `statement` dimension of SQL steps),
//! so a statement groups the same way wherever it is shown.

/// Lower-cases SQL and drops what differs between runs of the same statement: comments (sqlcommenter tags
/// among them), whitespace (kept only between two words), string and number literals and `$n` parameters
/// (each becomes `?`), a trailing `;`.
///
/// One pass over the characters without allocating per character: the cube normalises every SQL step at
/// ingest.
pub fn normalize_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut pending_space = false;
    let mut it = sql.chars().peekable();
    while let Some(ch) = it.next() {
        match ch {
            '/' if it.peek() == Some(&'*') => {
                it.next();
                let mut prev = '\0';
                for c in it.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                pending_space = true;
            }
            '-' if it.peek() == Some(&'-') => {
                while it.next_if(|c| *c != '\n').is_some() {}
                pending_space = true;
            }
            c if c.is_whitespace() => pending_space = true,
            '\'' => {
                // A string literal, '' being an escaped quote inside it.
                while let Some(c) = it.next() {
                    if c == '\'' && it.next_if_eq(&'\'').is_none() {
                        break;
                    }
                }
                push(&mut out, '?', &mut pending_space);
            }
            '$' if it.peek().is_some_and(char::is_ascii_digit) => {
                while it.next_if(char::is_ascii_digit).is_some() {}
                push(&mut out, '?', &mut pending_space);
            }
            c if c.is_ascii_digit() && (pending_space || !out.chars().next_back().is_some_and(|p| p.is_alphanumeric() || p == '_')) => {
                while it.next_if(|c| c.is_ascii_digit() || *c == '.').is_some() {}
                push(&mut out, '?', &mut pending_space);
            }
            c => push(&mut out, lower(c), &mut pending_space),
        }
    }
    while out.ends_with(';') {
        out.pop();
    }
    out
}

/// `c` lower-cased when that is one character of the same width (as the collector always compared).
fn lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) if x.len_utf8() == c.len_utf8() => x,
        _ => c,
    }
}

/// Appends `c`, with the pending space when it separates two words.
fn push(out: &mut String, c: char, pending_space: &mut bool) {
    let word = |ch: char| ch.is_alphanumeric() || ch == '_' || ch == '?' || ch == '"';
    if *pending_space && word(c) && out.chars().next_back().is_some_and(word) {
        out.push(' ');
    }
    *pending_space = false;
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_keeps_the_statement_and_drops_what_varies() {
        let a = normalize_sql("/*controller='pay'*/ SELECT  pg_sleep( 1.5 )\n  FROM t WHERE name = 'it''s' AND id=$1;");
        let b = normalize_sql("select pg_sleep(2) from t where name='x' and id = 42 -- done");
        assert_eq!(a, "select pg_sleep(?)from t where name=? and id=?");
        assert_eq!(a, b);
        assert_eq!(normalize_sql("SELECT * FROM pgbench_accounts2"), "select*from pgbench_accounts2");
        assert_ne!(normalize_sql("UPDATE a SET x = 1"), normalize_sql("UPDATE b SET x = 1"));
        assert_eq!(normalize_sql("SELECT 1 -- a\nFROM  \"Ä\" /* unclosed"), "select ? from \"ä\"");
        assert_eq!(normalize_sql("INSERT INTO t VALUES ('unclosed"), "insert into t values(?");
    }

    /// The collector's former implementation (a `Vec<char>` walk), kept as the reference: moving the
    /// function here must not change what the collector matches.
    fn reference(sql: &str) -> String {
        let c: Vec<char> = sql.chars().collect();
        let mut out = String::with_capacity(sql.len());
        let word = |ch: char| ch.is_alphanumeric() || ch == '_' || ch == '?' || ch == '"';
        let mut pending_space = false;
        let mut i = 0;
        let push = |out: &mut String, s: &str, pending_space: &mut bool| {
            if *pending_space && out.chars().last().is_some_and(word) && s.chars().next().is_some_and(word) {
                out.push(' ');
            }
            *pending_space = false;
            out.push_str(s);
        };
        while i < c.len() {
            let ch = c[i];
            if ch == '/' && c.get(i + 1) == Some(&'*') {
                i += 2;
                while i < c.len() && !(c[i] == '*' && c.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
                pending_space = true;
            } else if ch == '-' && c.get(i + 1) == Some(&'-') {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
                pending_space = true;
            } else if ch.is_whitespace() {
                pending_space = true;
                i += 1;
            } else if ch == '\'' {
                i += 1;
                while i < c.len() {
                    if c[i] == '\'' {
                        if c.get(i + 1) == Some(&'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                push(&mut out, "?", &mut pending_space);
            } else if ch == '$' && c.get(i + 1).is_some_and(char::is_ascii_digit) {
                i += 1;
                while i < c.len() && c[i].is_ascii_digit() {
                    i += 1;
                }
                push(&mut out, "?", &mut pending_space);
            } else if ch.is_ascii_digit() && (pending_space || !out.chars().last().is_some_and(|p| p.is_alphanumeric() || p == '_')) {
                while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                    i += 1;
                }
                push(&mut out, "?", &mut pending_space);
            } else {
                let mut buf = [0u8; 4];
                let lower: String = ch.to_lowercase().collect();
                push(&mut out, if lower.len() == ch.len_utf8() { &lower } else { ch.encode_utf8(&mut buf) }, &mut pending_space);
                i += 1;
            }
        }
        while out.ends_with(';') {
            out.pop();
        }
        out
    }

    #[test]
    fn same_answers_as_the_former_implementation() {
        use rand::{Rng, SeedableRng};
        let pieces = [
            "SELECT", "select", " ", "  ", "\n", "\t", "*", "/*", "*/", "/", "--", "-", "'", "''", "$", "$1", "1", "2.5", ".",
            "a", "_", "x1", "\"Q\"", ";", "(", ")", "=", ",", "Ä", "ß", "İ", "?", "é",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        for _ in 0..20_000 {
            let n = rng.random_range(0..14);
            let sql: String = (0..n).map(|_| pieces[rng.random_range(0..pieces.len())]).collect();
            assert_eq!(normalize_sql(&sql), reference(&sql), "{sql:?}");
        }
    }
}
