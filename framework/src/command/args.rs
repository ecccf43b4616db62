//! Reading a command's arguments one by one: words, "quoted strings", the
//! rest of the line. The derived [`Command::parse`](super::Command::parse)
//! calls these in field order.

use std::borrow::Cow;
use std::fmt::Display;
use std::ops::Range;
use std::str::FromStr;

use super::{with_article, ArgKind, CommandError, CommandSpec};

/// The arguments after a command word, read in the order of the command's
/// [`ArgSpec`](super::ArgSpec)s.
///
/// ```
/// use ghostkit::command::{Args, ArgKind, ArgSpec, CommandSpec};
/// static SAY: CommandSpec = CommandSpec {
///     name: "say", aliases: &[], doc: "", example: None, hidden: false,
///     args: &[
///         ArgSpec { name: "times", kind: ArgKind::Required, doc: "" },
///         ArgSpec { name: "text", kind: ArgKind::Rest, doc: "" },
///     ],
/// };
/// let mut args = Args::new("!", &SAY, r#" 2 "hello there" you"#);
/// assert_eq!(args.required::<u8>(), Ok(2));
/// assert_eq!(args.rest().as_deref(), Ok(r#""hello there" you"#));
/// assert_eq!(args.finish(), Ok(()));
/// ```
#[derive(Debug)]
pub struct Args<'a> {
    prefix: &'a str,
    spec: &'static CommandSpec,
    /// All the argument text.
    all: &'a str,
    /// The end of `all` not read yet.
    rest: &'a str,
    next: usize,
    /// Byte ranges of `all` holding `--options`, which positional reads skip.
    cuts: Vec<Range<usize>>,
    /// The options given: their index in `spec.args`, and value.
    found: Vec<(usize, Option<Cow<'a, str>>)>,
    /// A wrong option, returned by the first read.
    error: Option<CommandError>,
}

impl<'a> Args<'a> {
    /// Arguments of `spec` in `rest` (what follows the command word). When
    /// the command has options ([`ArgKind::Flag`], [`ArgKind::Named`]) they
    /// are taken out first, wherever they are; an unknown `--option` is an
    /// error returned by the first read.
    pub fn new(prefix: &'a str, spec: &'static CommandSpec, rest: &'a str) -> Self {
        let mut args = Args::plain(prefix, spec, rest);
        if spec.args.iter().any(|a| a.kind.is_option()) {
            if let Err(e) = args.scan_options() {
                args.error = Some(e);
            }
            args.rest = rest;
        }
        args
    }

    fn plain(prefix: &'a str, spec: &'static CommandSpec, rest: &'a str) -> Self {
        Args {
            prefix,
            spec,
            all: rest,
            rest,
            next: 0,
            cuts: Vec::new(),
            found: Vec::new(),
            error: None,
        }
    }

    /// Finds the options, up to a lone `--` (after which `--x` is a word).
    fn scan_options(&mut self) -> Result<(), CommandError> {
        loop {
            let start = self.all.len() - self.rest.trim_start().len();
            let quoted = is_quote(self.all[start..].chars().next());
            let Some(tok) = self.token()? else {
                return Ok(());
            };
            if quoted {
                continue;
            }
            if tok == "--" {
                self.cuts.push(start..self.pos());
                return Ok(());
            }
            let Some(word) = tok.strip_prefix("--") else {
                continue;
            };
            if !word.starts_with(char::is_alphabetic) {
                continue;
            }
            let Some(i) = self
                .spec
                .args
                .iter()
                .position(|a| a.kind.is_option() && a.name.eq_ignore_ascii_case(word))
            else {
                return Err(CommandError::UnknownOption {
                    command: self.command(),
                    option: tok.into_owned(),
                    usage: self.spec.usage(self.prefix),
                });
            };
            let value = match self.spec.args[i].kind {
                ArgKind::Flag => None,
                _ => match self.token()? {
                    Some(v) => Some(v),
                    None => {
                        return Err(CommandError::OptionValue {
                            command: self.command(),
                            option: self.spec.args[i].name.to_owned(),
                            hint: self.hint(),
                        })
                    }
                },
            };
            self.found.retain(|(j, _)| *j != i);
            self.found.push((i, value));
            self.cuts.push(start..self.pos());
        }
    }

    fn pos(&self) -> usize {
        self.all.len() - self.rest.len()
    }

    fn fail(&mut self) -> Result<(), CommandError> {
        self.error.take().map_or(Ok(()), Err)
    }

    /// Whether the next argument, a flag (`--invite`), was given.
    pub fn flag(&mut self) -> Result<bool, CommandError> {
        self.fail()?;
        let i = self.next;
        self.arg_name();
        Ok(self.found.iter().any(|(j, _)| *j == i))
    }

    /// The value of the next argument, an option (`--room R`), if given; it
    /// must parse as `T`.
    pub fn option<T>(&mut self) -> Result<Option<T>, CommandError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.fail()?;
        let i = self.next;
        let name = self.arg_name();
        let value = self.found.iter().find(|(j, _)| *j == i);
        match value.and_then(|(_, v)| v.clone()) {
            Some(v) => self.convert(&format!("--{name} value"), v).map(Some),
            None => Ok(None),
        }
    }

    /// What is left to read, without the options.
    fn remaining(&self) -> Cow<'a, str> {
        let from = self.pos();
        if !self.cuts.iter().any(|c| c.end > from) {
            return Cow::Borrowed(self.rest);
        }
        let mut out = String::new();
        let mut at = from;
        for c in self.cuts.iter().filter(|c| c.end > from) {
            // The spaces after the option stay, those before it go.
            out.push_str(self.all[at..c.start.max(at)].trim_end());
            at = c.end;
        }
        out.push_str(&self.all[at..]);
        Cow::Owned(out)
    }

    /// The next argument, which must be there and parse as `T`.
    pub fn required<T>(&mut self) -> Result<T, CommandError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.fail()?;
        let name = self.arg_name();
        match self.token()? {
            Some(tok) => self.convert(name, tok),
            None => Err(self.missing(name)),
        }
    }

    /// The next argument if there is one; when there is, it must parse as `T`.
    pub fn optional<T>(&mut self) -> Result<Option<T>, CommandError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.fail()?;
        let name = self.arg_name();
        match self.token()? {
            Some(tok) => self.convert(name, tok).map(Some),
            None => Ok(None),
        }
    }

    /// Everything left, trimmed, which must not be empty. A single quoted
    /// string that is all of it loses its quotes.
    pub fn rest(&mut self) -> Result<String, CommandError> {
        let name = self.spec.args.get(self.next).map_or("argument", |a| a.name);
        self.optional_rest()?.ok_or_else(|| self.missing(name))
    }

    /// Everything left, trimmed; `None` when nothing is left.
    pub fn optional_rest(&mut self) -> Result<Option<String>, CommandError> {
        self.fail()?;
        self.arg_name();
        let left = self.remaining();
        let all = left.trim();
        self.rest = "";
        if all.is_empty() {
            return Ok(None);
        }
        let mut whole = Args::plain(self.prefix, self.spec, all);
        if let (Some(tok), true) = (whole.token()?, is_quote(all.chars().next())) {
            if whole.rest.trim().is_empty() {
                return Ok(Some(tok.into_owned()));
            }
        }
        Ok(Some(all.to_owned()))
    }

    /// Everything left exactly as written, after the one space that
    /// separates it from the previous word (`#[command(rest, raw)]`); it must
    /// not be empty.
    pub fn rest_raw(&mut self) -> Result<String, CommandError> {
        self.fail()?;
        let name = self.arg_name();
        self.take_raw().ok_or_else(|| self.missing(name))
    }

    /// Like [`Args::rest_raw`]; `None` when nothing is left.
    pub fn optional_rest_raw(&mut self) -> Result<Option<String>, CommandError> {
        self.fail()?;
        self.arg_name();
        Ok(self.take_raw())
    }

    fn take_raw(&mut self) -> Option<String> {
        let left = self.remaining();
        let mut chars = left.chars();
        let all = match chars.next() {
            Some(c) if c.is_whitespace() => chars.as_str(),
            _ => left.as_ref(),
        };
        self.rest = "";
        (!all.is_empty()).then(|| all.to_owned())
    }

    /// Checks that nothing is left over.
    pub fn finish(mut self) -> Result<(), CommandError> {
        self.fail()?;
        match self.token()? {
            None => Ok(()),
            Some(extra) => Err(CommandError::TooMany {
                command: self.command(),
                extra: extra.into_owned(),
                usage: self.spec.usage(self.prefix),
            }),
        }
    }

    fn arg_name(&mut self) -> &'static str {
        let name = self.spec.args.get(self.next).map_or("argument", |a| a.name);
        self.next += 1;
        name
    }

    fn command(&self) -> String {
        format!("{}{}", self.prefix, self.spec.name)
    }

    fn hint(&self) -> String {
        match self.spec.example_line(self.prefix) {
            Some(e) => format!("e.g. `{e}`"),
            None => format!("usage: `{}`", self.spec.usage(self.prefix)),
        }
    }

    fn missing(&self, name: &str) -> CommandError {
        CommandError::Missing {
            command: self.command(),
            what: with_article(name),
            hint: self.hint(),
        }
    }

    fn convert<T>(&self, name: &str, tok: Cow<'a, str>) -> Result<T, CommandError>
    where
        T: FromStr,
        T::Err: Display,
    {
        tok.parse::<T>().map_err(|e| CommandError::Invalid {
            command: self.command(),
            arg: name.to_owned(),
            value: tok.into_owned(),
            reason: e.to_string(),
            hint: self.hint(),
        })
    }

    /// The next word or quoted string.
    fn token(&mut self) -> Result<Option<Cow<'a, str>>, CommandError> {
        let mut s = self.rest.trim_start();
        while let Some(cut) = self
            .cuts
            .iter()
            .find(|c| c.start == self.all.len() - s.len())
        {
            s = self.all[cut.end..].trim_start();
        }
        let Some(first) = s.chars().next() else {
            self.rest = s;
            return Ok(None);
        };
        if !is_quote(Some(first)) {
            let end = s.find(char::is_whitespace).unwrap_or(s.len());
            self.rest = &s[end..];
            return Ok(Some(Cow::Borrowed(&s[..end])));
        }
        let mut out = String::new();
        let mut chars = s.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, n)) if is_quote(Some(n)) || n == '\\' => out.push(n),
                    Some((_, n)) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => out.push('\\'),
                },
                '"' | '”' | '“' => {
                    self.rest = &s[i + c.len_utf8()..];
                    return Ok(Some(Cow::Owned(out)));
                }
                c => out.push(c),
            }
        }
        Err(CommandError::UnclosedQuote {
            command: self.command(),
            from: s.to_owned(),
        })
    }
}

/// `"` and the curly quotes phones put in.
fn is_quote(c: Option<char>) -> bool {
    matches!(c, Some('"' | '“' | '”'))
}

impl ArgKind {
    /// Whether the argument may be left out.
    pub fn is_optional(self) -> bool {
        !matches!(self, ArgKind::Required | ArgKind::Rest)
    }

    /// Whether it is a `--flag` or `--option value`, given anywhere.
    pub fn is_option(self) -> bool {
        matches!(self, ArgKind::Flag | ArgKind::Named)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ArgSpec;

    static BAN: CommandSpec = CommandSpec {
        name: "ban",
        aliases: &[],
        doc: "",
        example: Some("@spam:example.org reason"),
        hidden: false,
        args: &[
            ArgSpec {
                name: "user id",
                kind: ArgKind::Required,
                doc: "",
            },
            ArgSpec {
                name: "reason",
                kind: ArgKind::OptionalRest,
                doc: "",
            },
        ],
    };

    #[test]
    fn missing_says_what_and_gives_the_example() {
        let mut a = Args::new("!", &BAN, "  ");
        let e = a.required::<String>().expect_err("an error");
        assert_eq!(
            e.to_string(),
            "`!ban` needs a user id, e.g. `!ban @spam:example.org reason`"
        );
    }

    #[test]
    fn quoted_words_are_one_argument() {
        let mut a = Args::new("!", &BAN, r#" "a \"b\" c" “d e”"#);
        assert_eq!(a.required::<String>().as_deref(), Ok(r#"a "b" c"#));
        assert_eq!(a.optional_rest(), Ok(Some("d e".to_owned())));
        assert_eq!(a.finish(), Ok(()));
    }

    #[test]
    fn raw_rest_keeps_the_spaces() {
        let mut a = Args::new("!", &BAN, "   two  spaces \"q\" ");
        assert_eq!(a.rest_raw().as_deref(), Ok("  two  spaces \"q\" "));
        let mut a = Args::new("!", &BAN, "");
        assert!(a.rest_raw().is_err());
    }

    #[test]
    fn unclosed_quote_is_an_error() {
        let mut a = Args::new("!", &BAN, r#" "abc"#);
        assert!(matches!(
            a.required::<String>(),
            Err(CommandError::UnclosedQuote { .. })
        ));
    }

    #[test]
    fn invalid_and_too_many() {
        let mut a = Args::new("!", &BAN, " x y");
        let e = a.required::<u8>().expect_err("an error");
        assert!(e
            .to_string()
            .starts_with("`!ban`: `x` is not a valid user id ("));
        let e = a.finish().expect_err("an error");
        assert_eq!(
            e.to_string(),
            "`!ban` does not take `y`; usage: `!ban <user id> [reason…]`"
        );
    }
}
