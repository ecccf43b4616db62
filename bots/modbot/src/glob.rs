//! Entity globs of policy rules: `*` matches any run of characters, `?`
//! exactly one; everything else is literal.
//!
//! Matching is `wildmatch`'s; a [`Glob`] adds two fast paths for the common
//! rules, measured in the modbot benchmark's full sweep: a pattern without
//! wildcards is compared as a string, and a subject without the pattern's
//! literal prefix is refused before the matcher runs.

use wildmatch::WildMatch;

/// A compiled entity glob.
///
/// ```
/// use modbot::glob::Glob;
/// let g = Glob::new("@spam*:example.org");
/// assert!(g.matches("@spammer:example.org"));
/// assert!(!g.matches("@alice:example.org"));
/// assert!(Glob::new("@?:x").matches("@a:x"));
/// ```
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    /// The bytes before the first wildcard.
    prefix_len: usize,
    literal: bool,
    matcher: WildMatch,
}

impl PartialEq for Glob {
    fn eq(&self, other: &Glob) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Glob {}

/// Whether `s` contains a glob wildcard (`*` or `?`).
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Glob {
        let prefix_len = pattern.find(['*', '?']).unwrap_or(pattern.len());
        Glob {
            pattern: pattern.to_owned(),
            prefix_len,
            literal: !has_wildcard(pattern),
            matcher: WildMatch::new(pattern),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern has no wildcard (it matches only itself).
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    /// Whether `subject` matches the whole pattern.
    pub fn matches(&self, subject: &str) -> bool {
        if self.literal {
            return subject == self.pattern;
        }
        if !subject.starts_with(&self.pattern[..self.prefix_len]) {
            return false;
        }
        self.matcher.matches(subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_match_only_themselves() {
        let g = Glob::new("@bad:evil.org");
        assert!(g.is_literal());
        assert!(g.matches("@bad:evil.org"));
        assert!(!g.matches("@bad:evil.org2"));
        assert!(!g.matches("@bad:evil.or"));
    }

    #[test]
    fn star_and_question_mark() {
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("*").matches("anything"));
        assert!(Glob::new("*.evil.org").matches("matrix.evil.org"));
        assert!(!Glob::new("*.evil.org").matches("evil.org"));
        assert!(Glob::new("@*:evil.org").matches("@x:evil.org"));
        assert!(!Glob::new("@*:evil.org").matches("@x:good.org"));
        assert!(Glob::new("@spam??:x").matches("@spam12:x"));
        assert!(!Glob::new("@spam??:x").matches("@spam1:x"));
        assert!(Glob::new("a*b*c").matches("aXXbYYbZc"));
        assert!(!Glob::new("a*b*c").matches("aXXbYYbZ"));
        assert!(Glob::new("**a**").matches("bab"));
    }

    #[test]
    fn non_ascii_subjects_match_by_character() {
        assert!(Glob::new("@?:x").matches("@é:x"));
        assert!(Glob::new("@é*:x").matches("@éa:x"));
        assert!(!Glob::new("@??:x").matches("@é:x"));
    }

    #[test]
    fn backtracking_is_not_exponential() {
        let subject = "a".repeat(5000);
        let g = Glob::new("*a*a*a*a*a*a*b");
        assert!(!g.matches(&subject));
    }
}
