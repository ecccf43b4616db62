//! Entity globs of policy rules: `*` matches any run of characters, `?`
//! exactly one; everything else is literal.
//!
//! A [`Glob`] is compiled once (literal prefix, wildcard-free fast path) and
//! then matched many times without allocating.

/// A compiled entity glob.
///
/// ```
/// use modbot::glob::Glob;
/// let g = Glob::new("@spam*:example.org");
/// assert!(g.matches("@spammer:example.org"));
/// assert!(!g.matches("@alice:example.org"));
/// assert!(Glob::new("@?:x").matches("@a:x"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    chars: Vec<char>,
    /// The characters before the first wildcard.
    prefix_len: usize,
    literal: bool,
}

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
            chars: pattern.chars().collect(),
            prefix_len,
            literal: !has_wildcard(pattern),
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
        if subject.is_ascii() && self.pattern.is_ascii() {
            wildcard_match(self.pattern.as_bytes(), subject.as_bytes(), b'*', b'?')
        } else {
            let s: Vec<char> = subject.chars().collect();
            wildcard_match(&self.chars, &s, '*', '?')
        }
    }
}

/// Linear-time-in-practice wildcard matching: on a mismatch, go back to the
/// last `*` and let it swallow one more character.
fn wildcard_match<T: PartialEq + Copy>(p: &[T], s: &[T], star: T, any: T) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut last_star: Option<usize> = None;
    let mut mark = 0;
    while si < s.len() {
        if pi < p.len() && p[pi] == star {
            last_star = Some(pi);
            mark = si;
            pi += 1;
        } else if pi < p.len() && (p[pi] == any || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if let Some(st) = last_star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == star {
        pi += 1;
    }
    pi == p.len()
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
