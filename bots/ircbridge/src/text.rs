//! Matrix text made fit for IRC: HTML to plain text, and lines split to
//! IRC's 512-byte limit without cutting a UTF-8 character.

/// The longest line an IRC server takes, CR LF included.
pub const IRC_LINE_MAX: usize = 512;

/// Room kept for the `:nick!user@host ` prefix the server adds when it
/// passes our line on (nick, ident and a long host).
pub const PREFIX_RESERVE: usize = 100;

/// How many bytes of text fit in one `COMMAND target :text` line.
///
/// ```
/// assert_eq!(ircbridge::text::text_budget("PRIVMSG", "#rust"), 512 - 2 - 100 - "PRIVMSG #rust :".len());
/// ```
pub fn text_budget(command: &str, target: &str) -> usize {
    IRC_LINE_MAX - 2 - PREFIX_RESERVE - (command.len() + 1 + target.len() + 2)
}

/// Splits `text` into pieces of at most `max` bytes each: at line breaks
/// first, then at the last space that fits, else at a character boundary.
/// Empty lines are dropped; `max` below 4 is taken as 4 (one character).
///
/// ```
/// let parts = ircbridge::text::split_lines("one\ntwo three four", 10);
/// assert_eq!(parts, ["one", "two three", "four"]);
/// ```
pub fn split_lines(text: &str, max: usize) -> Vec<String> {
    let max = max.max(4);
    let mut out = Vec::new();
    for line in text.lines() {
        let mut rest = line.trim_end();
        while rest.len() > max {
            let mut cut = max;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let at = match rest[..cut].rfind(' ') {
                Some(sp) if sp > 0 => sp,
                _ => cut,
            };
            out.push(rest[..at].to_owned());
            rest = rest[at..].trim_start_matches(' ');
        }
        if !rest.trim().is_empty() {
            out.push(rest.to_owned());
        }
    }
    out
}

/// Plain text of Matrix HTML: tags dropped, `<br>`, `</p>`, `</li>` and
/// headings end lines, list items get a `- `, the common entities decoded.
///
/// ```
/// let t = ircbridge::text::html_to_text("<p>Hello <b>world</b> &amp; you</p><ul><li>one</li><li>two</li></ul>");
/// assert_eq!(t, "Hello world & you\n- one\n- two");
/// ```
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let Some(gt) = rest[lt..].find('>') else {
            out.push_str(&decode_entities(&rest[lt..]));
            rest = "";
            break;
        };
        let tag = rest[lt + 1..lt + gt].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let closing = tag.starts_with('/');
        match (name.as_str(), closing) {
            ("br", _) | ("p" | "div" | "li" | "blockquote" | "pre" | "tr", true) => out.push('\n'),
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", true) => out.push('\n'),
            ("li", false) => out.push_str("- "),
            _ => {}
        }
        rest = &rest[lt + gt + 1..];
    }
    out.push_str(&decode_entities(rest));
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    lines.join("\n").trim().to_owned()
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let Some(semi) = tail.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_split_at_spaces_within_the_budget() {
        let text = "word ".repeat(200);
        let parts = split_lines(&text, 50);
        assert!(parts.iter().all(|p| p.len() <= 50 && !p.is_empty()));
        assert_eq!(parts.join(" "), text.trim_end());
    }

    #[test]
    fn utf8_is_never_cut_inside_a_character() {
        let text = "é".repeat(300) + &"🦀".repeat(100);
        for max in [4, 5, 7, 100, 399] {
            let parts = split_lines(&text, max);
            assert!(parts.iter().all(|p| p.len() <= max));
            assert_eq!(parts.concat(), text);
        }
    }

    #[test]
    fn line_breaks_and_blank_lines() {
        assert_eq!(split_lines("a\r\n\r\nb\n", 10), ["a", "b"]);
        assert!(split_lines("", 10).is_empty());
        assert_eq!(split_lines("  indented", 20), ["  indented"]);
    }

    #[test]
    fn html_entities_and_bad_markup() {
        assert_eq!(
            html_to_text("a &lt;b&gt; &#233;&#x1F980; &bogus; & x"),
            "a <b> é🦀 &bogus; & x"
        );
        assert_eq!(html_to_text("line<br/>next<br>third"), "line\nnext\nthird");
        assert_eq!(html_to_text("unclosed <b"), "unclosed <b");
        assert_eq!(html_to_text("<a href=\"x\">link</a>"), "link");
    }

    #[test]
    fn a_full_budget_line_fits_in_512_bytes() {
        let budget = text_budget("PRIVMSG", "#a-long-channel-name");
        let line = format!("PRIVMSG #a-long-channel-name :{}\r\n", "x".repeat(budget));
        assert_eq!(line.len() + PREFIX_RESERVE, IRC_LINE_MAX);
    }
}
