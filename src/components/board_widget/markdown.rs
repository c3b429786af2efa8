//! A board note's Markdown as HTML: what notes use (paragraphs, headings, emphasis, code, links, lists,
//! quotes, rules, fenced code) in a page of code, where a full CommonMark parser (pulldown-cmark) was
//! ~70 KB of the app's wasm. Everything the writer typed is escaped, so raw HTML shows as text and a
//! shared board cannot run script in its viewers' browsers; links other than http(s), mailto and
//! relative ones become inert (`#`).

/// Markdown to HTML (the shape CommonMark renderers write: `<p>…</p>\n`, `<ul>\n<li>…</li>\n</ul>\n`).
pub fn markdown_html(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        let block = t.is_empty() || t.starts_with("```") || t.starts_with('>') || heading(t).is_some() || is_rule(t)
            || list_item(t).is_some();
        if !block {
            para.push(t);
            i += 1;
            continue;
        }
        paragraph(&mut out, &mut para);
        if t.is_empty() {
            i += 1;
        } else if t.starts_with("```") {
            out.push_str("<pre><code>");
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                escape_into(&mut out, lines[i]);
                out.push('\n');
                i += 1;
            }
            out.push_str("</code></pre>\n");
            i += 1;
        } else if let Some((level, title)) = heading(t) {
            out.push_str(&format!("<h{level}>{}</h{level}>\n", inline(title)));
            i += 1;
        } else if is_rule(t) {
            out.push_str("<hr />\n");
            i += 1;
        } else if t.starts_with('>') {
            let mut quoted = Vec::new();
            while let Some(q) = lines.get(i).map(|l| l.trim()).and_then(|l| l.strip_prefix('>')) {
                quoted.push(q.strip_prefix(' ').unwrap_or(q));
                i += 1;
            }
            out.push_str(&format!("<blockquote>\n{}</blockquote>\n", markdown_html(&quoted.join("\n"))));
        } else if let Some((ordered, _)) = list_item(t) {
            let tag = if ordered { "ol" } else { "ul" };
            out.push_str(&format!("<{tag}>\n"));
            while let Some((_, item)) = lines.get(i).and_then(|l| list_item(l.trim())).filter(|(o, _)| *o == ordered) {
                let mut item = item.to_string();
                i += 1;
                // Indented lines continue the item.
                while let Some(more) = lines.get(i).filter(|l| l.starts_with([' ', '\t']) && !l.trim().is_empty()) {
                    item.push('\n');
                    item.push_str(more.trim());
                    i += 1;
                }
                out.push_str(&format!("<li>{}</li>\n", inline(&item)));
            }
            out.push_str(&format!("</{tag}>\n"));
        }
    }
    paragraph(&mut out, &mut para);
    out
}

fn paragraph(out: &mut String, lines: &mut Vec<&str>) {
    if !lines.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", inline(&lines.join("\n"))));
        lines.clear();
    }
}

/// `## Title` → (2, "Title").
fn heading(t: &str) -> Option<(usize, &str)> {
    let level = t.bytes().take_while(|b| *b == b'#').count();
    let rest = &t[level..];
    ((1..=6).contains(&level) && (rest.is_empty() || rest.starts_with(' '))).then(|| (level, rest.trim().trim_end_matches('#').trim_end()))
}

/// `---`, `***`, `___` (spaces allowed between).
fn is_rule(t: &str) -> bool {
    let marks: Vec<char> = t.chars().filter(|c| !c.is_whitespace()).collect();
    marks.len() >= 3 && ['-', '*', '_'].iter().any(|m| marks.iter().all(|c| c == m))
}

/// `- item`, `* item`, `+ item` → (false, "item"); `1. item`, `1) item` → (true, "item").
fn list_item(t: &str) -> Option<(bool, &str)> {
    if let Some(rest) = t.strip_prefix(['-', '*', '+']) {
        return rest.strip_prefix(' ').map(|r| (false, r.trim_start()));
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let rest = t[digits..].strip_prefix(['.', ')'])?;
    ((1..=9).contains(&digits) && rest.starts_with(' ')).then(|| (true, rest.trim_start()))
}

/// Emphasis, code spans, links, images and autolinks inside a block; everything else escaped.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    let mut text_from = 0;
    while i < b.len() {
        let (html, next) = match b[i] {
            b'\\' if i + 1 < b.len() && b[i + 1].is_ascii_punctuation() => (escape(&s[i + 1..i + 2]), i + 2),
            b'\\' if i + 1 < b.len() && b[i + 1] == b'\n' => ("<br />\n".to_string(), i + 2),
            b'`' => match code_span(s, i) {
                Some(span) => span,
                None => {
                    i += 1;
                    continue;
                }
            },
            b'*' | b'_' => match emphasis(s, i) {
                Some(span) => span,
                None => {
                    // A whole run of delimiters stays text.
                    i += b[i..].iter().take_while(|c| **c == b[i]).count();
                    continue;
                }
            },
            b'!' if b.get(i + 1) == Some(&b'[') => match link(s, i + 1) {
                Some((text, url, next)) => (format!("<img src=\"{}\" alt=\"{}\" />", escape(&safe_url(url)), escape(text)), next),
                None => {
                    i += 1;
                    continue;
                }
            },
            b'[' => match link(s, i) {
                Some((text, url, next)) => (format!("<a href=\"{}\">{}</a>", escape(&safe_url(url)), inline(text)), next),
                None => {
                    i += 1;
                    continue;
                }
            },
            b'<' => match s[i + 1..].find('>').map(|e| &s[i + 1..i + 1 + e]) {
                Some(url) if is_autolink(url) => (format!("<a href=\"{0}\">{0}</a>", escape(&safe_url(url))), i + url.len() + 2),
                _ => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                i += 1;
                continue;
            }
        };
        escape_into(&mut out, &s[text_from..i]);
        out.push_str(&html);
        i = next;
        text_from = i;
    }
    escape_into(&mut out, &s[text_from..]);
    out
}

/// A code span opening at `i`: the text up to the same run of backticks.
fn code_span(s: &str, i: usize) -> Option<(String, usize)> {
    let n = s[i..].bytes().take_while(|c| *c == b'`').count();
    let fence = &s[i..i + n];
    let mut from = i + n;
    loop {
        let at = from + s[from..].find(fence)?;
        let run = s[at..].bytes().take_while(|c| *c == b'`').count();
        if run == n {
            let code = s[i + n..at].replace('\n', " ");
            let code = if code.len() > 2 && code.starts_with(' ') && code.ends_with(' ') { &code[1..code.len() - 1] } else { &code };
            return Some((format!("<code>{}</code>", escape(code)), at + n));
        }
        from = at + run;
    }
}

/// `*em*`, `**strong**`, `***both***` (or with `_`, not inside a word) opening at `i`.
fn emphasis(s: &str, i: usize) -> Option<(String, usize)> {
    let b = s.as_bytes();
    let d = b[i];
    let n = b[i..].iter().take_while(|c| **c == d).count().min(3);
    let after = *b.get(i + n)?;
    let word_before = i > 0 && b[i - 1].is_ascii_alphanumeric();
    if after.is_ascii_whitespace() || (d == b'_' && word_before) {
        return None;
    }
    let closing = &s[i..i + n];
    let mut from = i + n + 1;
    while from <= s.len() {
        let at = from + s.get(from..)?.find(closing)?;
        let word_after = b.get(at + n).is_some_and(u8::is_ascii_alphanumeric);
        // A closing run follows text, and `_` does not close inside a word.
        let inside_word = d == b'_' && word_after;
        if !b[at - 1].is_ascii_whitespace() && !inside_word {
            let inner = inline(&s[i + n..at]);
            let html = match n {
                1 => format!("<em>{inner}</em>"),
                2 => format!("<strong>{inner}</strong>"),
                _ => format!("<em><strong>{inner}</strong></em>"),
            };
            return Some((html, at + n));
        }
        from = at + 1;
    }
    None
}

/// `[text](url "title")` opening at `i`: its text, its url, and where it ends.
fn link(s: &str, i: usize) -> Option<(&str, &str, usize)> {
    let mut depth = 0;
    let close = s[i..].char_indices().find_map(|(k, c)| {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + k);
                }
            }
            _ => {}
        }
        None
    })?;
    let rest = s[close + 1..].strip_prefix('(')?;
    let end = rest.find(')')?;
    let target = rest[..end].trim();
    let url = target.split_once(char::is_whitespace).map_or(target, |(u, _)| u);
    let url = url.strip_prefix('<').and_then(|u| u.strip_suffix('>')).unwrap_or(url);
    Some((&s[i + 1..close], url, close + 2 + end + 1))
}

fn is_autolink(url: &str) -> bool {
    !url.contains(char::is_whitespace) && ["http://", "https://", "mailto:"].iter().any(|p| url.starts_with(p))
}

/// `javascript:` and other schemes become an inert `#`.
fn safe_url(url: &str) -> String {
    let lower = url.trim().to_ascii_lowercase();
    let safe = !lower.contains(':') || ["http:", "https:", "mailto:"].iter().any(|s| lower.starts_with(s));
    if safe { url.to_string() } else { "#".to_string() }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::markdown_html as md;

    #[test]
    fn blocks() {
        assert_eq!(md("# On call\n\nPage **#payments**\nor *ops*."), "<h1>On call</h1>\n<p>Page <strong>#payments</strong>\nor <em>ops</em>.</p>\n");
        assert_eq!(md("- a\n- b `x`\n\n1. one\n2. two"), "<ul>\n<li>a</li>\n<li>b <code>x</code></li>\n</ul>\n<ol>\n<li>one</li>\n<li>two</li>\n</ol>\n");
        assert_eq!(md("> quoted\n> more\n\n---"), "<blockquote>\n<p>quoted\nmore</p>\n</blockquote>\n<hr />\n");
        assert_eq!(md("```\nlet a = <b>;\n```"), "<pre><code>let a = &lt;b&gt;;\n</code></pre>\n");
    }

    #[test]
    fn inline_text() {
        assert_eq!(md("snake_case_name and 2 * 3 * 4"), "<p>snake_case_name and 2 * 3 * 4</p>\n");
        assert_eq!(md("__strong__ _em_ ***both***"), "<p><strong>strong</strong> <em>em</em> <em><strong>both</strong></em></p>\n");
        assert_eq!(md("[wiki](https://wiki.example \"Wiki\") <https://x.example>"), "<p><a href=\"https://wiki.example\">wiki</a> <a href=\"https://x.example\">https://x.example</a></p>\n");
        assert_eq!(md("\\*not em\\* and [unclosed"), "<p>*not em* and [unclosed</p>\n");
        assert_eq!(md("![chart](/img/a.png)"), "<p><img src=\"/img/a.png\" alt=\"chart\" /></p>\n");
    }

    #[test]
    fn nothing_the_writer_typed_runs() {
        let html = md("**on call** <script>alert(1)</script> [wiki](https://wiki.example)");
        assert!(html.contains("<strong>on call</strong>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains(r#"<a href="https://wiki.example">wiki</a>"#));
        assert!(!md("[x](javascript:alert(1))").contains("javascript"));
        assert!(!md("![x](JavaScript:alert(1))").contains("avaScript"));
        assert_eq!(md("[a\"b](https://x.example/\"onmouseover=\"x)"), "<p><a href=\"https://x.example/&quot;onmouseover=&quot;x\">a&quot;b</a></p>\n");
    }
}
