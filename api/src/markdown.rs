//! Incident summaries and timeline entries are Markdown; mails and the public page show
//! them as HTML. One renderer for both, so what a subscriber reads in a mail is what a
//! visitor sees on the page.

/// Markdown as HTML, safely: raw HTML in the source is shown as text rather than
/// interpreted, and the result is sanitised anyway (no scripts, no event handlers, no
/// `javascript:` links, no images — those would be trackers in mails and requests to
/// third-party hosts on the page).
pub fn markdown_html(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let events =
        Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            event => event,
        });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    ammonia::Builder::default()
        .rm_tags(["img"])
        .clean(&html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_but_never_runs() {
        let html = markdown_html(
            "**Hi** <script>x</script> [a](javascript:alert(1)) ![t](https://t.example/p.gif)\n\nsecond",
        );
        assert!(html.contains("<strong>Hi</strong>"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
        assert!(
            !html.contains("javascript:") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("<p>second</p>"), "{html}");
    }

    #[test]
    fn hostile_markup_is_defused() {
        for (markdown, forbidden) in [
            ("<img src=x onerror=alert(1)>", "<img"),
            ("[x](javascript:alert(1))", "javascript:"),
            ("[x](data:text/html;base64,PHNjcmlwdD4=)", "data:"),
            (
                "<div><p onclick=\"steal()\">nested <b>html</b></p></div>",
                "<div",
            ),
            (
                "<a href=\"https://evil.example\" onmouseover=\"x()\">hi</a>",
                "<a ",
            ),
        ] {
            let html = markdown_html(markdown);
            assert!(!html.contains(forbidden), "{markdown} gave {html}");
        }
    }

    #[test]
    fn links_open_safely_and_autolinks_work() {
        let html = markdown_html(
            "See <https://status.example/docs> or [the FAQ](https://example.com/faq).",
        );
        assert!(
            html.contains("<a href=\"https://status.example/docs\" rel=\"noopener noreferrer\">"),
            "{html}"
        );
        assert!(html.contains("href=\"https://example.com/faq\""), "{html}");
    }
}
