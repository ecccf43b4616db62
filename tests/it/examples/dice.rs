//! examples/dice against the real Synapse: typed arguments, help, errors.

use anyhow::Result;

use super::{nth_message_of, room_with, start_example};

#[tokio::test]
async fn dice_rolls_explains_and_helps() -> Result<()> {
    let store = tempfile::tempdir()?;
    let running = start_example("dice", dice::handler(), store.path()).await?;
    let bot = running.app().bot_user_id().to_string();
    let result = async {
        let (alice, room) = room_with(&bot, "dice").await?;
        alice.send_text(&room, "!roll 3d6 attack").await?;
        let rolled = nth_message_of(&alice, &room, &bot, 0).await?;
        let (head, total) = rolled
            .split_once(" = ")
            .ok_or_else(|| anyhow::anyhow!("no total in {rolled:?}"))?;
        assert!(head.starts_with("🎲 3d6 (attack): "), "{rolled}");
        let dice: Vec<u32> = head["🎲 3d6 (attack): ".len()..]
            .split(" + ")
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        assert_eq!(dice.len(), 3);
        assert!(dice.iter().all(|d| (1..=6).contains(d)));
        assert_eq!(total.parse::<u32>()?, dice.iter().sum::<u32>());

        alice.send_text(&room, "!roll 3x6").await?;
        let err = nth_message_of(&alice, &room, &bot, 1).await?;
        assert_eq!(
            err,
            "`!roll`: `3x6` is not a valid dice (write dice as NdM, like 2d6), e.g. `!roll 2d6`"
        );
        alice.send_text(&room, "!help").await?;
        let help = nth_message_of(&alice, &room, &bot, 2).await?;
        assert!(
            help.contains("!roll <dice> [label…] — Rolls dice and says each die and the total."),
            "{help}"
        );
        assert!(help.contains("!flip — Flips a coin."), "{help}");
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}
