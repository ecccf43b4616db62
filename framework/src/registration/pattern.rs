//! Namespace regexes, read the way Synapse reads them.
//!
//! Synapse compiles each `regex` with Python's `re.compile` and tests IDs with
//! `pattern.match(id)` (synapse/appservice/__init__.py, `_check_namespaces`
//! and `_matches_regex`): the match is anchored at the **start** of the ID
//! only. `@irc_` therefore matches every ID that starts with `@irc_`, and a
//! trailing `$` is there only when the file writes one.
//!
//! Python's `re` and Rust's `regex` crate mostly agree; [`translate`] rewrites
//! the few places where the same text means something else, and refuses what
//! Python refuses but Rust would accept. Patterns the `regex` crate cannot run
//! (look-around, backreferences, atomic groups) are compiled with
//! `fancy-regex` instead; everything else stays on the faster `regex` path.

/// A compiled namespace regex, anchored at the start like Python's `re.match`.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// The `regex` crate: linear time, the usual case.
    Fast(regex::Regex),
    /// `fancy-regex`, for look-around and backreferences (backtracking).
    Fancy(fancy_regex::Regex),
}

impl Matcher {
    /// Compiles a registration's regex; the error is the problem in words.
    pub(crate) fn compile(pattern: &str) -> Result<Self, String> {
        let translated = translate(pattern)?;
        let anchored = format!("^(?:{translated})");
        match regex::Regex::new(&anchored) {
            Ok(r) => Ok(Matcher::Fast(r)),
            Err(fast_err) => match fancy_regex::Regex::new(&anchored) {
                Ok(r) => Ok(Matcher::Fancy(r)),
                Err(fancy_err) => Err(format!(
                    "is not a valid regex: {}",
                    first_line_pair(&fast_err.to_string(), &fancy_err.to_string())
                )),
            },
        }
    }

    /// Whether `id` matches from its start (Python's `re.match`).
    pub(crate) fn is_match(&self, id: &str) -> bool {
        match self {
            Matcher::Fast(r) => r.is_match(id),
            // A backtracking limit hit counts as no match: refusing is safe.
            Matcher::Fancy(r) => r.is_match(id).unwrap_or(false),
        }
    }

    /// Whether this regex needed `fancy-regex`.
    pub(crate) fn is_fancy(&self) -> bool {
        matches!(self, Matcher::Fancy(_))
    }
}

/// The `regex` crate's message is the useful one unless the feature is simply
/// unsupported there, in which case `fancy-regex` said what is really wrong.
fn first_line_pair(fast: &str, fancy: &str) -> String {
    let fast = fast.trim();
    if fast.contains("look-around") || fast.contains("backreferences") {
        fancy.trim().to_owned()
    } else {
        fast.replace('\n', " ")
    }
}

/// Python escapes made of a letter, outside a character class.
const PY_LETTER_ESCAPES: &str = "AbBdDsSwWZafnrtvxuUN";

/// Rewrites a Python `re` pattern into Rust `regex`/`fancy-regex` syntax with
/// the same meaning, or says why Synapse would refuse it (or why it has no
/// Rust equivalent).
///
/// - `\Z` (Python's end of string) becomes `\z`; `\<`, `\>` and other
///   escaped punctuation stay literal characters.
/// - Inside `[…]`, `[`, `&&`, `~~` and `--` are plain characters in Python
///   but set operations in Rust: they are escaped.
/// - `{` that does not start a repetition is a literal in Python.
/// - `(?#…)` comments are dropped.
/// - Rust-only syntax Python refuses (`\p{…}`, `\z`, `(?<name>…)`, `(?U)`,
///   `\x{…}`) is refused here too.
pub(crate) fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    // Inside a character class: how many class items were written so far.
    let mut class: Option<usize> = None;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err("ends with a lone `\\`; write `\\\\` for a backslash".into());
                };
                i += 2;
                if next.is_ascii_alphanumeric() {
                    if next.is_ascii_digit() {
                        // Backreference (`\1`) or octal (`\0`): fancy-regex decides.
                        out.push('\\');
                        out.push(next);
                    } else if !PY_LETTER_ESCAPES.contains(next) {
                        return Err(format!(
                            "uses `\\{next}`, which Python's `re` (and so Synapse) refuses"
                        ));
                    } else if next == 'N' {
                        return Err(
                            "uses `\\N{…}`, a Python escape with no Rust equivalent; write the character itself"
                                .into(),
                        );
                    } else if next == 'x' && chars.get(i) == Some(&'{') {
                        return Err(
                            "uses `\\x{…}`, which Python's `re` (and so Synapse) refuses; write `\\xHH` or `\\uHHHH`"
                                .into(),
                        );
                    } else if class.is_some() && matches!(next, 'A' | 'Z' | 'B') {
                        return Err(format!(
                            "uses `\\{next}` inside `[…]`, which Python's `re` (and so Synapse) refuses"
                        ));
                    } else if class.is_some() && next == 'b' {
                        // Python: backspace inside a class.
                        out.push_str("\\x08");
                    } else if next == 'Z' {
                        out.push_str("\\z");
                    } else {
                        out.push('\\');
                        out.push(next);
                    }
                } else if next == '<' || next == '>' {
                    // Rust reads `\<` / `\>` as word boundaries; Python as `<` / `>`.
                    out.push(next);
                } else if next.is_ascii() {
                    out.push('\\');
                    out.push(next);
                } else {
                    // Python: an escaped non-ASCII character is itself.
                    out.push(next);
                }
                if let Some(n) = class.as_mut() {
                    *n += 1;
                }
                continue;
            }
            '[' if class.is_none() => {
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A `]` first in the class is a literal in both dialects.
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                    class = Some(1);
                } else {
                    class = Some(0);
                }
                continue;
            }
            ']' if class.is_some() => {
                out.push(']');
                class = None;
            }
            '[' | '&' | '~' if class.is_some() => {
                out.push('\\');
                out.push(c);
            }
            '-' if class.is_some() && i > 0 && chars[i - 1] == '-' => out.push_str("\\-"),
            _ if class.is_some() => out.push(c),
            '{' => match repetition(&chars[i..]) {
                Some((len, text)) => {
                    out.push_str(&text);
                    i += len;
                    continue;
                }
                None => out.push_str("\\{"),
            },
            '}' => out.push_str("\\}"),
            '(' if chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..].iter().take(2).collect();
                if rest.starts_with('#') {
                    // A comment: skip to its `)`.
                    match chars[i..].iter().position(|&ch| ch == ')') {
                        Some(end) => i += end + 1,
                        None => return Err("has a `(?#` comment without its `)`".into()),
                    }
                    continue;
                }
                if rest.starts_with('<') && !rest.starts_with("<=") && !rest.starts_with("<!") {
                    return Err(
                        "uses `(?<name>…)`, which Python's `re` (and so Synapse) refuses; write `(?P<name>…)`"
                            .into(),
                    );
                }
                let flags: String = chars[i + 2..]
                    .iter()
                    .take_while(|ch| ch.is_ascii_alphabetic() || **ch == '-')
                    .collect();
                let after = chars.get(i + 2 + flags.chars().count());
                if !flags.is_empty() && matches!(after, Some(')') | Some(':')) {
                    if let Some(bad) = flags.chars().find(|f| !"aiLmsux-".contains(*f)) {
                        return Err(format!(
                            "uses the flag `{bad}` in `(?{flags}…)`, which Python's `re` (and so Synapse) refuses"
                        ));
                    }
                    if after == Some(&')') && i != 0 {
                        return Err(format!(
                            "has the global flags `(?{flags})` after its start, which Python's `re` (and so Synapse) refuses; move them to the very start"
                        ));
                    }
                }
                out.push('(');
            }
            _ => out.push(c),
        }
        if let Some(n) = class.as_mut() {
            *n += 1;
        }
        i += 1;
    }
    Ok(out)
}

/// A Python repetition `{m}`, `{m,}`, `{,n}` or `{m,n}` at the start of
/// `chars`: its length and its Rust spelling.
fn repetition(chars: &[char]) -> Option<(usize, String)> {
    let end = chars.iter().position(|&c| c == '}')?;
    let inner: String = chars[1..end].iter().collect();
    let (lo, hi) = match inner.split_once(',') {
        Some((lo, hi)) => (lo, Some(hi)),
        None => (inner.as_str(), None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(lo) || !hi.is_none_or(digits) {
        return None;
    }
    let text = match hi {
        None if lo.is_empty() => return None,
        None => format!("{{{lo}}}"),
        Some(hi) if lo.is_empty() => format!("{{0,{hi}}}"),
        Some(hi) => format!("{{{lo},{hi}}}"),
    };
    Some((end + 1, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(pattern: &str, id: &str) -> bool {
        Matcher::compile(pattern).unwrap().is_match(id)
    }

    #[test]
    fn anchored_at_the_start_only() {
        assert!(m("@irc_", "@irc_alice:example.org"));
        assert!(!m("@irc_", "x@irc_alice:example.org"));
        assert!(m("@bot:example\\.org", "@bot:example.org.evil"));
        assert!(!m("@bot:example\\.org$", "@bot:example.org.evil"));
        assert!(m("@a|@b", "@b:x"));
        assert!(!m("@a|@b", "x@b:x"));
        // heisenbridge's classic: `@irc` then any number of `_`.
        assert!(m("@irc_*", "@ircfoo:example.org"));
    }

    #[test]
    fn python_only_syntax_is_translated() {
        assert!(m("@a\\Z", "@a"));
        assert!(!m("@a\\Z", "@ab"));
        assert!(m("@\\<x\\>", "@<x>"));
        assert!(m("@[[]x", "@[x"));
        assert!(m("@[a&&b]", "@&"));
        assert!(m("@a{", "@a{"));
        assert!(m("@a{,2}b", "@aab"));
        assert!(m("@(?#note)a", "@a"));
        assert!(m("@\\_\\@", "@_@"));
        assert!(m("(?i)@A", "@a"));
        assert!(m("@(?P<n>a)(?P=n)", "@aa"));
    }

    #[test]
    fn look_around_falls_back_to_fancy_regex() {
        let r = Matcher::compile("@(?!admin)[a-z]+:x").unwrap();
        assert!(r.is_fancy());
        assert!(r.is_match("@bob:x"));
        assert!(!r.is_match("@admin:x"));
        assert!(!Matcher::compile("@irc_.*").unwrap().is_fancy());
    }

    #[test]
    fn rust_only_syntax_is_refused() {
        for p in [
            "\\p{L}", "a\\z", "(?<n>a)", "(?U)a", "\\x{41}", "a(?i)b", "a\\", "[\\Z]",
        ] {
            assert!(Matcher::compile(p).is_err(), "{p}");
        }
        assert!(Matcher::compile("[").is_err());
        assert!(Matcher::compile("(?<=a)b").is_ok());
    }
}
