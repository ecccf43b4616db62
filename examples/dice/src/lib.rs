//! Dice: `!roll 2d6` rolls two six-sided dice; `!help` lists the commands
//! (made from the doc comments below), `!help roll` explains one.
//!
//! ```text
//! GHOSTKIT_REGISTRATION=tests/registrations/dice.yaml GHOSTKIT_HOMESERVER_URL=http://127.0.0.1:18008 cargo run -p dice
//! ```
//! Invite `@dice:localhost` to a room, then say `!roll 2d6` or `!help`.
//!
//! The typed argument is [`Dice`]: the derive parses it with its `FromStr`,
//! so `!roll 2x6` is answered with what is wrong and an example.
//!
//! A roll depends on no other command, so the bot asks for no order
//! ([`DispatchOrder::Unordered`]): rolls in a busy room are answered
//! concurrently, not necessarily in the order they were asked for.

use std::fmt;
use std::str::FromStr;

use ghostkit::prelude::*;
use rand::Rng;

/// The command line defaults of this bot.
pub const INFO: BotInfo = bot_info!("dice").port(9011);

/// `NdM`: N dice of M sides (`d20` is `1d20`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dice {
    /// How many dice, 1 to 100.
    pub count: u32,
    /// Sides of each, 2 to 1000.
    pub sides: u32,
}

/// Why a text is not dice.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiceError {
    /// Not `NdM`.
    #[error("write dice as NdM, like 2d6")]
    Shape,
    /// Out of range.
    #[error("use 1 to 100 dice of 2 to 1000 sides")]
    Range,
}

impl FromStr for Dice {
    type Err = DiceError;

    /// ```
    /// use dice::Dice;
    /// assert_eq!("2d6".parse(), Ok(Dice { count: 2, sides: 6 }));
    /// assert_eq!("D20".parse(), Ok(Dice { count: 1, sides: 20 }));
    /// assert!("2x6".parse::<Dice>().is_err());
    /// assert!("0d6".parse::<Dice>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, DiceError> {
        let (count, sides) = s
            .to_ascii_lowercase()
            .split_once('d')
            .map(|(c, s)| (c.to_owned(), s.to_owned()))
            .ok_or(DiceError::Shape)?;
        let count = match count.as_str() {
            "" => 1,
            c => c.parse().map_err(|_| DiceError::Shape)?,
        };
        let sides = sides.parse().map_err(|_| DiceError::Shape)?;
        if !(1..=100).contains(&count) || !(2..=1000).contains(&sides) {
            return Err(DiceError::Range);
        }
        Ok(Dice { count, sides })
    }
}

impl fmt::Display for Dice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}d{}", self.count, self.sides)
    }
}

impl Dice {
    /// Rolls them: each die, and the total.
    pub fn roll(&self, rng: &mut impl Rng) -> (Vec<u32>, u32) {
        let each: Vec<u32> = (0..self.count)
            .map(|_| rng.gen_range(1..=self.sides))
            .collect();
        let total = each.iter().sum();
        (each, total)
    }
}

/// Dice commands.
#[derive(Debug, PartialEq, Command)]
pub enum DiceCommand {
    /// Rolls dice and says each die and the total.
    ///
    /// Dice are written NdM: N dice of M sides.
    #[command(aliases = ["r"], example = "2d6")]
    Roll {
        /// Which dice, like 2d6 or d20.
        dice: Dice,
        /// A label for the roll, like "attack".
        #[command(rest)]
        label: Option<String>,
    },
    /// Flips a coin.
    Flip,
}

/// The bot.
#[derive(Debug, Default)]
pub struct DiceBot;

/// What the bot answers to `cmd` with `rng`.
///
/// ```
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// let cmd = dice::DiceCommand::Roll { dice: "3d1000".parse().unwrap(), label: None };
/// assert!(dice::answer(cmd, &mut rng).starts_with("🎲 3d1000: "));
/// ```
pub fn answer(cmd: DiceCommand, rng: &mut impl Rng) -> String {
    match cmd {
        DiceCommand::Roll { dice, label } => {
            let (each, total) = dice.roll(rng);
            let label = label.map(|l| format!(" ({l})")).unwrap_or_default();
            let each: Vec<String> = each.iter().map(u32::to_string).collect();
            format!("🎲 {dice}{label}: {} = {total}", each.join(" + "))
        }
        DiceCommand::Flip => {
            let side = if rng.gen_bool(0.5) { "heads" } else { "tails" };
            format!("🪙 {side}")
        }
    }
}

#[ghostkit::async_trait]
impl Handler<DiceCommand> for DiceBot {
    async fn on_command(&self, ctx: &Context, cmd: DiceCommand) -> HandlerResult {
        let text = answer(cmd, &mut rand::thread_rng());
        ctx.reply_text(&text).await?;
        Ok(())
    }
}

/// The bot as it runs: commands after `!`, its own messages ignored, invites accepted, no order.
pub fn handler() -> impl Handler {
    DiceBot
        .commands("!")
        .ignore_own_ghosts()
        .auto_join()
        .order(DispatchOrder::Unordered)
}

/// The examples' README, whose code is compiled as doc-tests so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ExamplesReadme;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rolls_stay_within_the_sides_and_add_up() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let dice = Dice {
            count: 50,
            sides: 4,
        };
        let (each, total) = dice.roll(&mut rng);
        assert_eq!(each.len(), 50);
        assert!(each.iter().all(|d| (1..=4).contains(d)));
        assert_eq!(total, each.iter().sum::<u32>());
    }

    #[test]
    fn the_command_parses_typed_dice() {
        use ghostkit::command::Command;
        assert_eq!(
            DiceCommand::parse("!", "!r d20 saving throw"),
            Some(Ok(DiceCommand::Roll {
                dice: Dice {
                    count: 1,
                    sides: 20
                },
                label: Some("saving throw".into()),
            }))
        );
        let err = DiceCommand::parse("!", "!roll 0d6").and_then(Result::err);
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("`!roll`: `0d6` is not a valid dice (use 1 to 100 dice of 2 to 1000 sides), e.g. `!roll 2d6`")
        );
    }
}
