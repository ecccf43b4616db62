//! The command layer: a handler's typed commands parsed from the messages
//! that start with a prefix, behind an optional guard.

use std::marker::PhantomData;

use async_trait::async_trait;
use ruma_common::UserId;

use super::compose::layer;
use super::{Context, Handler, HandlerResult, NoCommands};
use crate::command::{Command, Outcome};
use crate::router::DispatchOrder;

/// The prefix (or prefixes) a command starts with: `"!"`, or one read from
/// config (`String`); [`Prefix::or`] adds alternatives, [`Prefix::word`]
/// is a prefix that is a word of its own (`!mod ban …`), and
/// [`Prefix::or_mention`] also takes a message that starts with the bot's
/// name (`modbot: ban …`).
///
/// ```
/// use ghostkit::bot::Prefix;
///
/// let p = Prefix::new("!").or("?");
/// assert_eq!(p.used_in("?roll"), Some("?"));
/// assert_eq!(p.used_in("hello"), None);
/// assert_eq!(p.shown(), "!");
///
/// let m = Prefix::word("!mod").or_mention();
/// let bot = ghostkit::ruma::common::user_id!("@modbot:x");
/// assert_eq!(m.address("!mod ban @a:b", bot), Some("ban @a:b"));
/// assert_eq!(m.address("!mod", bot), Some(""));
/// assert_eq!(m.address("@modbot:x: rooms", bot), Some("rooms"));
/// assert_eq!(m.address("modbot: help", bot), Some("help"));
/// assert_eq!(m.address("!moderate", bot), None);
/// assert_eq!(m.shown(), "!mod ");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// Every start, the longest first (so that `!!` wins over `!`); none
    /// is empty.
    starts: Vec<Start>,
    /// The first start given, as help shows it and the parser takes it.
    shown: String,
    /// Whether the bot's name also starts a command.
    mention: bool,
}

/// How a message is addressed to the bot.
enum Addressed<'a, 't> {
    /// By this glued prefix: the command word follows it.
    Glued(&'a str),
    /// By a word prefix or a mention: the command text after it.
    Word(&'t str),
}

/// One way a command starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    /// Glued to the command word: `!` in `!roll`.
    Glued(String),
    /// A word of its own, followed by a space or the end: `!mod`.
    Word(String),
}

impl Start {
    /// What `text` says after this start, if it starts with it.
    fn rest<'t>(&self, text: &'t str) -> Option<&'t str> {
        match self {
            Start::Glued(p) => text.strip_prefix(p.as_str()),
            Start::Word(p) => word_rest(text, p),
        }
    }

    /// The prefix the command parser is given.
    fn parse_prefix(&self) -> String {
        match self {
            Start::Glued(p) => p.clone(),
            Start::Word(p) => format!("{p} "),
        }
    }
}

/// What follows `word` at the start of `text`, when a space (or `:` and a
/// space) or the end comes after it.
fn word_rest<'t>(text: &'t str, word: &str) -> Option<&'t str> {
    let rest = text.strip_prefix(word)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim_start())
}

impl Prefix {
    /// One prefix, glued to the command word (`!` in `!roll`). An empty one
    /// would make every message a command; it is taken as `!`, with a
    /// warning.
    pub fn new(prefix: impl Into<String>) -> Self {
        Prefix::first(Start::Glued(non_empty(prefix.into())))
    }

    /// A prefix that is a word of its own (`!mod` in `!mod ban @a:b`): a
    /// space or the end follows it, so `!moderate` is not `!mod`, and the
    /// prefix alone asks for the help.
    pub fn word(prefix: impl Into<String>) -> Self {
        Prefix::first(Start::Word(non_empty(prefix.into()).trim_end().to_owned()))
    }

    fn first(start: Start) -> Self {
        Prefix {
            shown: start.parse_prefix(),
            starts: vec![start],
            mention: false,
        }
    }

    /// This prefix or `other` (glued); the longest that matches wins.
    pub fn or(mut self, other: impl Into<String>) -> Self {
        self.starts.push(Start::Glued(non_empty(other.into())));
        self.starts
            .sort_by_key(|p| std::cmp::Reverse(p.parse_prefix().len()));
        self
    }

    /// Also a message that starts with the bot's user ID or localpart,
    /// with or without a `:` (`@modbot:example.org: ban …`, `modbot: ban …`).
    pub fn or_mention(mut self) -> Self {
        self.mention = true;
        self
    }

    /// The (glued or word) prefix `text` starts with, if any.
    pub fn used_in(&self, text: &str) -> Option<&str> {
        self.starts
            .iter()
            .find(|p| p.rest(text).is_some())
            .map(|p| match p {
                Start::Glued(p) | Start::Word(p) => p.as_str(),
            })
    }

    /// What `text` says after its prefix or the mention of `bot_user_id`,
    /// when it is addressed to the bot.
    pub fn address<'t>(&self, text: &'t str, bot_user_id: &UserId) -> Option<&'t str> {
        match self.addressed(text, bot_user_id)? {
            Addressed::Glued(p) => text.strip_prefix(p),
            Addressed::Word(rest) => Some(rest),
        }
    }

    /// How `text` is addressed to the bot, if it is.
    fn addressed<'a, 't>(
        &'a self,
        text: &'t str,
        bot_user_id: &UserId,
    ) -> Option<Addressed<'a, 't>> {
        // A word or a mention may have spaces around it; a glued prefix is
        // the text's first character on, so that a raw argument keeps all.
        let words = text.trim();
        for start in &self.starts {
            match start {
                Start::Glued(p) if text.starts_with(p.as_str()) => {
                    return Some(Addressed::Glued(p))
                }
                Start::Word(p) => {
                    if let Some(rest) = word_rest(words, p) {
                        return Some(Addressed::Word(rest));
                    }
                }
                Start::Glued(_) => {}
            }
        }
        if !self.mention {
            return None;
        }
        let mentioned = [bot_user_id.as_str(), bot_user_id.localpart()]
            .into_iter()
            .filter(|m| !m.is_empty())
            .find_map(|m| word_rest(words, m));
        mentioned.map(Addressed::Word)
    }

    /// What `text` is as a command of `C`, when addressed to the bot.
    fn outcome<C: Command>(&self, text: &str, bot_user_id: &UserId) -> Option<Outcome<C>> {
        match self.addressed(text, bot_user_id)? {
            Addressed::Glued(p) => C::outcome(p, text),
            Addressed::Word(rest) => {
                let shown = &self.shown;
                if rest.is_empty() {
                    return Some(Outcome::Help(C::help(shown)));
                }
                C::outcome(shown, &format!("{shown}{rest}"))
            }
        }
    }

    /// The prefix help texts show, as the command parser takes it.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

fn non_empty(prefix: String) -> String {
    if prefix.is_empty() {
        tracing::warn!("an empty command prefix would make every message a command; using `!`");
        "!".to_owned()
    } else {
        prefix
    }
}

impl From<&str> for Prefix {
    fn from(p: &str) -> Self {
        Prefix::new(p)
    }
}

impl From<String> for Prefix {
    fn from(p: String) -> Self {
        Prefix::new(p)
    }
}

impl From<&String> for Prefix {
    fn from(p: &String) -> Self {
        Prefix::new(p.clone())
    }
}

/// What a [`Guard`] says of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Run it.
    Allow,
    /// Do not run it, and say nothing: the message is an ordinary one.
    Ignore,
    /// Do not run it, and answer with this notice (why, and what to do).
    Refuse(String),
}

/// Who may run the commands: asked before each one (help included). A
/// closure `Fn(&Context) -> bool` is a guard that allows or ignores;
/// implement the trait for one that must look something up or explain a
/// refusal.
///
/// ```
/// use ghostkit::prelude::*;
/// use ghostkit::bot::{Guard, Verdict};
///
/// /// Only the operators named in the config.
/// struct Operators(Vec<String>);
///
/// #[ghostkit::async_trait]
/// impl Guard for Operators {
///     async fn check(&self, ctx: &Context) -> Verdict {
///         match ctx.sender() {
///             Some(s) if self.0.iter().any(|o| o == s.as_str()) => Verdict::Allow,
///             _ => Verdict::Refuse("only the bot's operators may do that".into()),
///         }
///     }
/// }
/// # let _ = Operators(vec![]);
/// ```
#[async_trait]
pub trait Guard: Send + Sync + 'static {
    /// Whether the sender of `ctx`'s event may run a command.
    async fn check(&self, ctx: &Context) -> Verdict;
}

#[async_trait]
impl<F> Guard for F
where
    F: Fn(&Context) -> bool + Send + Sync + 'static,
{
    async fn check(&self, ctx: &Context) -> Verdict {
        if self(ctx) {
            Verdict::Allow
        } else {
            Verdict::Ignore
        }
    }
}

/// A handler with its commands parsed: from [`HandlerExt::commands`](super::HandlerExt::commands).
///
/// A text message (`m.text`, not a notice: bots answer in notices) that
/// starts with the prefix is a command: [`Handler::on_command`] gets it,
/// [`Handler::on_command_error`] one said wrong, and `!help` (unless `C`
/// has a `help` of its own) is answered with the help of `C`. Everything
/// else, and a command the guard ignores or refuses, goes to
/// [`Handler::on_event`]; with [`WithCommands::events_first`], every event
/// goes there, commands included, before the command is run.
///
/// ```
/// use ghostkit::prelude::*;
///
/// #[derive(Debug, PartialEq, Command)]
/// enum Admin {
///     /// Shuts the bot up.
///     Mute,
/// }
///
/// struct Bot { prefix: String, admins: Vec<String> }
///
/// #[ghostkit::async_trait]
/// impl Handler<Admin> for Bot {
///     async fn on_command(&self, ctx: &Context, cmd: Admin) -> HandlerResult {
///         ctx.reply_notice("muted").await?;
///         Ok(())
///     }
/// }
///
/// fn handler(bot: Bot) -> impl Handler {
///     let (prefix, admins) = (bot.prefix.clone(), bot.admins.clone());
///     bot.commands(prefix)
///         .guard(move |ctx: &Context| ctx.sender().is_some_and(|s| admins.iter().any(|a| a == s.as_str())))
/// }
/// # let _ = handler(Bot { prefix: "!".into(), admins: vec![] });
/// ```
pub struct WithCommands<C, H> {
    inner: H,
    prefix: Prefix,
    guard: Option<Box<dyn Guard>>,
    events_first: bool,
    commands: PhantomData<fn() -> C>,
}

impl<C, H: std::fmt::Debug> std::fmt::Debug for WithCommands<C, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithCommands")
            .field("inner", &self.inner)
            .field("prefix", &self.prefix)
            .field("guard", &self.guard.is_some())
            .field("events_first", &self.events_first)
            .finish()
    }
}

impl<C: Command, H: Handler<C>> WithCommands<C, H> {
    pub(super) fn new(inner: H, prefix: Prefix) -> Self {
        WithCommands {
            inner,
            prefix,
            guard: None,
            events_first: false,
            commands: PhantomData,
        }
    }

    /// Asks `guard` before each command; the last guard given is the one.
    pub fn guard(mut self, guard: impl Guard) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }

    /// Hands every event to [`Handler::on_event`] first, commands included,
    /// then runs the command: for a bot that forwards or checks every
    /// message and also has commands.
    pub fn events_first(mut self) -> Self {
        self.events_first = true;
        self
    }

    /// The prefix.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// The wrapped handler.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// What the event's text says, when it starts with the prefix.
    fn outcome(&self, ctx: &Context) -> Option<Outcome<C>> {
        let ev = ctx.event();
        if ev.event_type() != "m.room.message" || ev.is_state() {
            return None;
        }
        let text = ev.content::<Text>().ok()?;
        // The bot and its ghosts give no commands: an answer or a relayed
        // message that starts with the prefix is not taken as one.
        if text.msgtype != "m.text" || ctx.sender().is_some_and(|s| ctx.is_ours(s)) {
            return None;
        }
        self.prefix.outcome(&text.body, ctx.bot_user_id())
    }

    /// Runs a command, or answers the error or help.
    async fn run(&self, ctx: &Context, outcome: Outcome<C>) -> HandlerResult {
        match outcome {
            Outcome::Command(cmd) => self.inner.on_command(ctx, cmd).await,
            Outcome::Error(e) => self.inner.on_command_error(ctx, e).await,
            Outcome::Help(text) => {
                ctx.reply_notice(&text).await?;
                Ok(())
            }
        }
    }
}

/// The fields of a message the command layer reads.
#[derive(serde::Deserialize)]
struct Text {
    msgtype: String,
    body: String,
}

layer! {
    impl [C: Command, H: Handler<C>] Handler<NoCommands> for WithCommands<C, H>
    where []
    {
        fn dispatch_order(&self) -> DispatchOrder {
            self.inner.dispatch_order()
        }

        async fn on_event(&self, ctx: &Context) -> HandlerResult {
            if self.events_first {
                self.inner.on_event(ctx).await?;
            }
            let Some(outcome) = self.outcome(ctx) else {
                return match self.events_first {
                    true => Ok(()),
                    false => self.inner.on_event(ctx).await,
                };
            };
            let verdict = match &self.guard {
                Some(guard) => guard.check(ctx).await,
                None => Verdict::Allow,
            };
            match verdict {
                Verdict::Allow => self.run(ctx, outcome).await,
                Verdict::Ignore | Verdict::Refuse(_) => {
                    if let Verdict::Refuse(why) = verdict {
                        ctx.reply_notice(&why).await?;
                    }
                    match self.events_first {
                        true => Ok(()),
                        false => self.inner.on_event(ctx).await,
                    }
                }
            }
        }
    }
}
