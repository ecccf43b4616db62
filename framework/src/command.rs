//! Chat commands: `!roll 2d6` parsed into a typed enum, help text, and
//! errors a user in a chat understands.
//!
//! Derive [`Command`](macro@crate::Command) on an enum (see there for every
//! attribute); this module holds what the generated code runs on: the
//! [`Command`] trait, the table of [`CommandSpec`]s the help is made from, the
//! argument reader ([`Args`]) and [`CommandError`].
//!
//! ```
//! use ghostkit::command::{Command, Outcome};
//!
//! /// Dice commands.
//! #[derive(Debug, PartialEq, ghostkit::Command)]
//! enum Dice {
//!     /// Rolls dice.
//!     #[command(aliases = ["r"], example = "3")]
//!     Roll { count: u32 },
//! }
//!
//! assert_eq!(Dice::parse("!", "!roll 6"), Some(Ok(Dice::Roll { count: 6 })));
//! assert_eq!(Dice::parse("!", "hello"), None);
//! let err = Dice::parse("!", "!r").unwrap().unwrap_err();
//! assert_eq!(err.to_string(), "`!roll` needs a count, e.g. `!roll 3`");
//! assert!(matches!(Dice::outcome("!", "!help"), Some(Outcome::Help(h)) if h.contains("!roll <count>")));
//! ```

mod args;

use std::fmt::Write as _;

pub use args::Args;

/// A command enum: parses one chat message, and describes itself for `!help`.
///
/// Derive it with [`ghostkit::Command`](macro@crate::Command); implementing it
/// by hand means filling [`Command::COMMANDS`] and [`Command::parse`].
pub trait Command: Sized + Send + 'static {
    /// One entry per command, in declaration order (help lists them so).
    const COMMANDS: &'static [CommandSpec];

    /// Whether `!ROLL` is refused (the default accepts any case).
    const CASE_SENSITIVE: bool = false;

    /// Parses `text` said in a chat. `None` when it is not a command (no
    /// `prefix`, or nothing after it); otherwise the command or why it is wrong.
    fn parse(prefix: &str, text: &str) -> Option<Result<Self, CommandError>>;

    /// The help: one line per command, `prefix` put before each.
    fn help(prefix: &str) -> String {
        let mut out = String::from("Commands:");
        for c in Self::COMMANDS.iter().filter(|c| !c.hidden) {
            let _ = write!(out, "\n{}", c.usage(prefix));
            if !c.summary().is_empty() {
                let _ = write!(out, " — {}", c.summary());
            }
        }
        if Self::find(HELP).is_none() {
            let _ = write!(
                out,
                "\n{prefix}{HELP} [command] — this list, or all about one command"
            );
        }
        out
    }

    /// The full help of the command called `word` (name or alias), if any.
    fn help_for(prefix: &str, word: &str) -> Option<String> {
        Self::find(word).map(|c| c.help(prefix))
    }

    /// The command called `word` (name or alias), by the case rule.
    fn find(word: &str) -> Option<&'static CommandSpec> {
        Self::COMMANDS.iter().find(|c| {
            std::iter::once(c.name)
                .chain(c.aliases.iter().copied())
                .any(|n| {
                    if Self::CASE_SENSITIVE {
                        n == word
                    } else {
                        n.eq_ignore_ascii_case(word)
                    }
                })
        })
    }

    /// Like [`Command::parse`], and answers `!help` / `!help <command>` when
    /// the enum has no command called `help` of its own.
    fn outcome(prefix: &str, text: &str) -> Option<Outcome<Self>> {
        let parsed = Self::parse(prefix, text)?;
        Some(match parsed {
            Ok(cmd) => Outcome::Command(cmd),
            Err(CommandError::Unknown { word, .. }) if word.eq_ignore_ascii_case(HELP) => {
                let (_, rest) = split_command(prefix, text)?;
                let rest = rest.trim();
                let rest = rest.strip_prefix(prefix).unwrap_or(rest);
                let words: Vec<&str> = rest.split_whitespace().collect();
                let asked = words.first().map(|first| {
                    Self::help_for(prefix, &words.join(" "))
                        .or_else(|| Self::help_for(prefix, first))
                        .ok_or_else(|| CommandError::Unknown {
                            prefix: prefix.to_owned(),
                            word: (*first).to_owned(),
                        })
                });
                match asked {
                    None => Outcome::Help(Self::help(prefix)),
                    Some(Ok(h)) => Outcome::Help(h),
                    Some(Err(e)) => Outcome::Error(e),
                }
            }
            Err(e) => Outcome::Error(e),
        })
    }
}

const HELP: &str = "help";

/// What a chat message turned out to be (see [`Command::outcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<C> {
    /// A command to run.
    Command(C),
    /// `!help`: the text to answer with.
    Help(String),
    /// A command said wrong: answer with the error.
    Error(CommandError),
}

/// One command, as the derive describes it (help and error messages use it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// The command word (`roll`), or words with single spaces (`rooms add`).
    pub name: &'static str,
    /// Other words for it (`r`).
    pub aliases: &'static [&'static str],
    /// The arguments, in order.
    pub args: &'static [ArgSpec],
    /// The doc comment: the first line is the summary in the list.
    pub doc: &'static str,
    /// Arguments to show after `!roll ` as an example (`2d6`).
    pub example: Option<&'static str>,
    /// Left out of the command list (still parsed and in `!help <name>`).
    pub hidden: bool,
}

/// One argument of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    /// Its name in usage lines and errors (`user id`).
    pub name: &'static str,
    /// Required, optional or the rest of the line.
    pub kind: ArgKind,
    /// The field's doc comment.
    pub doc: &'static str,
}

/// How an argument is taken from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// One word (or one "quoted string"), which must be there.
    Required,
    /// One word that may be missing (an `Option<T>` field).
    Optional,
    /// Everything left, which must not be empty.
    Rest,
    /// Everything left, possibly nothing (`Option<String>`).
    OptionalRest,
    /// `--name` anywhere among the arguments (a `bool` field); `name` is
    /// the word after `--`.
    Flag,
    /// `--name value` anywhere among the arguments (an `Option<T>` field).
    Named,
}

impl CommandSpec {
    /// The first line of the doc comment.
    pub fn summary(&self) -> &'static str {
        self.doc.lines().next().unwrap_or("").trim()
    }

    /// `!roll <dice> [times]`.
    pub fn usage(&self, prefix: &str) -> String {
        let mut out = format!("{prefix}{}", self.name);
        for a in self.args {
            let _ = match a.kind {
                ArgKind::Required => write!(out, " <{}>", a.name),
                ArgKind::Optional => write!(out, " [{}]", a.name),
                ArgKind::Rest => write!(out, " <{}…>", a.name),
                ArgKind::OptionalRest => write!(out, " [{}…]", a.name),
                ArgKind::Flag => write!(out, " [--{}]", a.name),
                ArgKind::Named => write!(out, " [--{} <{}>]", a.name, a.name),
            };
        }
        out
    }

    /// `!roll 2d6`, when the command has an example.
    pub fn example_line(&self, prefix: &str) -> Option<String> {
        self.example.map(|e| match e.is_empty() {
            true => format!("{prefix}{}", self.name),
            false => format!("{prefix}{} {e}", self.name),
        })
    }

    /// Everything about the command: usage, doc, arguments, aliases, example.
    pub fn help(&self, prefix: &str) -> String {
        let mut out = self.usage(prefix);
        if !self.doc.is_empty() {
            let _ = write!(out, "\n{}", self.doc);
        }
        for a in self.args.iter().filter(|a| !a.doc.is_empty()) {
            let dashes = if a.kind.is_option() { "--" } else { "" };
            let _ = write!(out, "\n  {dashes}{}: {}", a.name, a.doc);
        }
        if !self.aliases.is_empty() {
            let aliases: Vec<String> = self
                .aliases
                .iter()
                .map(|a| format!("{prefix}{a}"))
                .collect();
            let _ = write!(out, "\nAlso: {}", aliases.join(", "));
        }
        if let Some(e) = self.example_line(prefix) {
            let _ = write!(out, "\nExample: {e}");
        }
        out
    }
}

/// Why a message that starts with the prefix is not a valid command. The
/// messages are meant to be sent back to the user as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No command has this name.
    #[error("unknown command `{prefix}{word}`; say `{prefix}help` for the list")]
    Unknown {
        /// The prefix in force.
        prefix: String,
        /// The word after it.
        word: String,
    },
    /// A required argument is missing.
    #[error("`{command}` needs {what}, {hint}")]
    Missing {
        /// `!ban`.
        command: String,
        /// `a user id`.
        what: String,
        /// `e.g. `!ban @spam:example.org reason`` or the usage line.
        hint: String,
    },
    /// An argument does not parse as its type.
    #[error("`{command}`: `{value}` is not a valid {arg} ({reason}), {hint}")]
    Invalid {
        /// `!roll`.
        command: String,
        /// The argument's name.
        arg: String,
        /// What the user wrote.
        value: String,
        /// What the type's parser said.
        reason: String,
        /// An example or the usage line.
        hint: String,
    },
    /// More words than the command takes.
    #[error("`{command}` does not take `{extra}`; usage: `{usage}`")]
    TooMany {
        /// `!roll`.
        command: String,
        /// The first word too many.
        extra: String,
        /// The usage line.
        usage: String,
    },
    /// An `--option` the command does not have.
    #[error("`{command}` has no option `{option}`; usage: `{usage}`")]
    UnknownOption {
        /// `!kick`.
        command: String,
        /// `--rooom`, as written.
        option: String,
        /// The usage line.
        usage: String,
    },
    /// `--option` given last, without its value.
    #[error("`{command}`: `--{option}` needs a value, {hint}")]
    OptionValue {
        /// `!kick`.
        command: String,
        /// `room`.
        option: String,
        /// An example or the usage line.
        hint: String,
    },
    /// A `"` was opened and never closed.
    #[error("`{command}`: a quote opened before `{from}` is never closed; add a closing `\"`")]
    UnclosedQuote {
        /// `!say`.
        command: String,
        /// The text from the opening quote.
        from: String,
    },
}

/// Splits `!roll 2d6` into (`roll`, ` 2d6`); `None` when `text` does not start
/// with `prefix` followed by a word.
///
/// ```
/// assert_eq!(ghostkit::command::split_command("!", "!roll 2d6"), Some(("roll", " 2d6")));
/// assert_eq!(ghostkit::command::split_command("!", "! roll"), None);
/// assert_eq!(ghostkit::command::split_command("!", "roll"), None);
/// ```
pub fn split_command<'t>(prefix: &str, text: &'t str) -> Option<(&'t str, &'t str)> {
    let after = text.trim_start().strip_prefix(prefix)?;
    let end = after.find(char::is_whitespace).unwrap_or(after.len());
    let (word, rest) = after.split_at(end);
    (!word.is_empty()).then_some((word, rest))
}

/// Which command `text` names after `prefix`: `names` pairs a command's
/// index with one of its words, which may be several (`"rooms add"`), and the
/// name with the most words wins. The index, and the text after the name.
///
/// ```
/// use ghostkit::command::match_name;
/// let names = [(0, "rooms"), (1, "rooms add")];
/// assert_eq!(match_name("!", "!rooms add #r", &names, false), Some((1, " #r")));
/// assert_eq!(match_name("!", "!Rooms", &names, false), Some((0, "")));
/// assert_eq!(match_name("!", "!rooms addx", &names, false), Some((0, " addx")));
/// assert_eq!(match_name("!", "!room", &names, false), None);
/// ```
pub fn match_name<'t>(
    prefix: &str,
    text: &'t str,
    names: &[(usize, &str)],
    case_sensitive: bool,
) -> Option<(usize, &'t str)> {
    let after = text.trim_start().strip_prefix(prefix)?;
    let mut best: Option<(usize, usize, &'t str)> = None;
    for &(i, name) in names {
        let Some(rest) = strip_words(after, name, case_sensitive) else {
            continue;
        };
        let n = name.split_whitespace().count();
        if best.is_none_or(|(m, ..)| n > m) {
            best = Some((n, i, rest));
        }
    }
    best.map(|(_, i, rest)| (i, rest))
}

/// `s` without the words of `name` at its start (any spaces between them).
fn strip_words<'t>(mut s: &'t str, name: &str, case_sensitive: bool) -> Option<&'t str> {
    for (k, w) in name.split_whitespace().enumerate() {
        if k > 0 {
            let t = s.trim_start();
            if t.len() == s.len() {
                return None;
            }
            s = t;
        }
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        let same = if case_sensitive {
            &s[..end] == w
        } else {
            s[..end].to_lowercase() == w.to_lowercase()
        };
        if !same {
            return None;
        }
        s = &s[end..];
    }
    Some(s)
}

/// "a user id", "an amount": the argument's name with its article.
pub(crate) fn with_article(name: &str) -> String {
    let lower = name.to_lowercase();
    // Spelled with a vowel, said with a consonant: "a user", "a unit", "a URL".
    let said_consonant = ["us", "uni", "uri", "url", "eu", "one"]
        .iter()
        .any(|p| lower.starts_with(p));
    let vowel = !said_consonant && lower.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {name}", if vowel { "an" } else { "a" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles() {
        assert_eq!(with_article("user id"), "a user id");
        assert_eq!(with_article("amount"), "an amount");
        assert_eq!(with_article("URL"), "a URL");
        assert_eq!(with_article("duration"), "a duration");
    }

    #[test]
    fn split() {
        assert_eq!(split_command("!", "  !echo"), Some(("echo", "")));
        assert_eq!(split_command("bot:", "bot:x y"), Some(("x", " y")));
        assert_eq!(split_command("!", "!"), None);
    }
}
