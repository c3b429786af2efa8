//! Board notes (text widgets) from Markdown to HTML, on the server: pulldown-cmark is ~52 KB brotli of
//! the app's download when it runs in the browser, and every viewer of a note asks the server for its
//! widgets' data anyway (`POST /api/v1/notes/render`, BENCHMARKS.md "Issue 16").
//!
//! The HTML goes into the page as it is, so it must be safe to: raw HTML in a note is escaped (shown as
//! text, never run), and links and images to anything but `http:`, `https:`, `mailto:` or a relative
//! address lead nowhere (`#`), so a shared board cannot run script in its viewers' browsers.

use pulldown_cmark::{Event, Parser, Tag};

/// The longest note rendered (bytes of Markdown); a board's notes are a few lines to a page.
pub const MAX_NOTE_BYTES: usize = 256 * 1024;

/// Markdown to HTML that is safe to put into a page (see the module's doc).
pub fn render(text: &str) -> String {
    let events = Parser::new(text).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        // `javascript:` and other schemes become inert links.
        Event::Start(Tag::Link { link_type, dest_url, title, id }) if !safe_url(&dest_url) => {
            Event::Start(Tag::Link { link_type, dest_url: "#".into(), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) if !safe_url(&dest_url) => {
            Event::Start(Tag::Image { link_type, dest_url: "#".into(), title, id })
        }
        e => e,
    });
    let mut out = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// A web or mail address, or one without a scheme (relative).
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    !lower.contains(':') || ["http:", "https:", "mailto:"].iter().any(|s| lower.starts_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_never_carry_raw_html() {
        let html = render("**on call** <script>alert(1)</script> [wiki](https://wiki.example)");
        assert!(html.contains("<strong>on call</strong>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains(r#"<a href="https://wiki.example">wiki</a>"#));
        assert!(!render("[x](javascript:alert(1))").contains("javascript"));
    }

    #[test]
    fn only_web_mail_and_relative_links_lead_anywhere() {
        for bad in ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "vbscript:x", "file:///etc/passwd"] {
            let html = render(&format!("[x]({bad}) ![i]({bad})"));
            assert!(!html.to_ascii_lowercase().contains(bad.trim().to_ascii_lowercase().as_str()), "{bad}: {html}");
            assert_eq!(html.matches(r##"="#""##).count(), 2, "{bad}: {html}");
        }
        for good in ["https://x.example/a", "http://x.example", "mailto:oncall@x.example", "/boards/ops", "runbook#db"] {
            assert!(render(&format!("[x]({good})")).contains(&format!(r#"href="{good}""#)), "{good}");
        }
    }

    #[test]
    fn html_blocks_and_attributes_are_text() {
        let html = render("<div onclick=\"x()\">hi</div>\n\n<img src=x onerror=alert(1)>");
        assert!(!html.contains("<div") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
    }

    #[test]
    fn common_markdown_is_rendered() {
        let html = render("# Runbook\n\n- one\n  - nested\n\n`code` &amp; [link](https://x.example \"t\")");
        assert!(html.contains("<h1>Runbook</h1>"), "{html}");
        assert!(html.contains("<ul>\n<li>one\n<ul>\n<li>nested</li>"), "{html}");
        assert!(html.contains("<code>code</code> &amp; "), "{html}");
        assert!(html.contains(r#"<a href="https://x.example" title="t">link</a>"#), "{html}");
    }
}
