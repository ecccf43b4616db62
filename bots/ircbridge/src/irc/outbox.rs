//! The queue of lines waiting to be sent: bounded per channel and in all,
//! and drained fairly, one line of each channel in turn, so that one busy
//! channel cannot hold back the others.
//!
//! Lines that are not said to a channel (JOIN, PART, NICK, QUIT…) wait in
//! a lane of their own that goes first: they are few, and the bridge's
//! own.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use thiserror::Error;
use tokio::sync::Notify;

use super::{casefold, is_channel, Message};

/// How many lines may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Lines waiting for one channel.
    pub per_channel: usize,
    /// Lines waiting for all channels together.
    pub total: usize,
    /// Lines waiting in the lane of lines not said to a channel.
    pub control: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            per_channel: 100,
            total: 1000,
            control: 256,
        }
    }
}

/// Why lines were not queued (none of them were).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueueError {
    /// The channel's queue has no room for the lines.
    #[error("the IRC queue of {channel} is full ({limit} lines wait)")]
    ChannelFull {
        /// The channel.
        channel: String,
        /// Its limit.
        limit: usize,
    },
    /// The queue of all channels has no room for the lines.
    #[error("the bridge's IRC queue is full ({limit} lines wait)")]
    Full {
        /// The limit.
        limit: usize,
    },
    /// The lane of lines not said to a channel is full.
    #[error("the queue of IRC commands is full ({limit} lines wait)")]
    ControlFull {
        /// The limit.
        limit: usize,
    },
}

#[derive(Debug, Default)]
struct Lanes {
    control: VecDeque<Message>,
    /// Lines by casefolded channel.
    channels: HashMap<String, VecDeque<Message>>,
    /// Channels with lines waiting, in the order they get their turn.
    turns: VecDeque<String>,
    /// Lines waiting in `channels`.
    queued: usize,
    closed: bool,
}

/// The bounded, fair queue between the bridge and the connection's writer.
#[derive(Debug)]
pub struct Outbox {
    limits: QueueLimits,
    lanes: Mutex<Lanes>,
    ready: Notify,
}

/// The channel a line is said to, casefolded, if it is a PRIVMSG or NOTICE
/// to one.
fn channel_of(msg: &Message) -> Option<String> {
    match msg.command.as_str() {
        "PRIVMSG" | "NOTICE" => msg.param(0).filter(|t| is_channel(t)).map(casefold),
        _ => None,
    }
}

impl Outbox {
    /// An empty queue with these limits (each at least 1).
    pub fn new(limits: QueueLimits) -> Self {
        Outbox {
            limits: QueueLimits {
                per_channel: limits.per_channel.max(1),
                total: limits.total.max(1),
                control: limits.control.max(1),
            },
            lanes: Mutex::default(),
            ready: Notify::new(),
        }
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `msgs`, all of them or, when one lane lacks room, none.
    pub fn push_all(&self, msgs: Vec<Message>) -> Result<(), QueueError> {
        let mut lanes = self.lanes();
        let mut wanted: HashMap<String, usize> = HashMap::new();
        let mut control = 0;
        for m in &msgs {
            match channel_of(m) {
                Some(c) => *wanted.entry(c).or_default() += 1,
                None => control += 1,
            }
        }
        if lanes.control.len() + control > self.limits.control {
            return Err(QueueError::ControlFull {
                limit: self.limits.control,
            });
        }
        let mut total = 0;
        for (channel, n) in &wanted {
            let waiting = lanes.channels.get(channel).map_or(0, VecDeque::len);
            if waiting + n > self.limits.per_channel {
                return Err(QueueError::ChannelFull {
                    channel: channel.clone(),
                    limit: self.limits.per_channel,
                });
            }
            total += n;
        }
        if lanes.queued + total > self.limits.total {
            return Err(QueueError::Full {
                limit: self.limits.total,
            });
        }
        for m in msgs {
            match channel_of(&m) {
                Some(c) => {
                    let lane = lanes.channels.entry(c.clone()).or_default();
                    if lane.is_empty() {
                        lanes.turns.push_back(c.clone());
                    }
                    lanes.channels.entry(c).or_default().push_back(m);
                    lanes.queued += 1;
                }
                None => lanes.control.push_back(m),
            }
        }
        drop(lanes);
        self.ready.notify_one();
        Ok(())
    }

    /// Queues one line.
    pub fn push(&self, msg: Message) -> Result<(), QueueError> {
        self.push_all(vec![msg])
    }

    /// The next line to send, if one waits: the control lane first, then
    /// one line of the channel whose turn it is.
    pub fn pop(&self) -> Option<Message> {
        let mut lanes = self.lanes();
        if let Some(m) = lanes.control.pop_front() {
            return Some(m);
        }
        let channel = lanes.turns.pop_front()?;
        let lane = lanes.channels.get_mut(&channel)?;
        let msg = lane.pop_front();
        let more = !lane.is_empty();
        if more {
            lanes.turns.push_back(channel);
        } else {
            lanes.channels.remove(&channel);
        }
        if msg.is_some() {
            lanes.queued -= 1;
        }
        msg
    }

    /// Waits for the next line; `None` once [`Outbox::close`] was called
    /// and nothing is left.
    pub async fn next(&self) -> Option<Message> {
        loop {
            if let Some(m) = self.pop() {
                return Some(m);
            }
            if self.lanes().closed {
                return None;
            }
            self.ready.notified().await;
        }
    }

    /// Lines waiting for channels (the control lane not counted).
    pub fn queued(&self) -> usize {
        self.lanes().queued
    }

    /// No more lines will come: [`Outbox::next`] ends when the queue is empty.
    pub fn close(&self) {
        self.lanes().closed = true;
        self.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(channel: &str, text: &str) -> Message {
        Message::new("PRIVMSG", [channel, text])
    }

    fn text(m: &Message) -> String {
        format!("{} {}", m.param(0).unwrap_or(""), m.param(1).unwrap_or(""))
    }

    #[test]
    fn a_busy_channel_does_not_hold_back_the_others() {
        let out = Outbox::new(QueueLimits::default());
        let flood: Vec<Message> = (0..50).map(|i| say("#busy", &format!("{i}"))).collect();
        out.push_all(flood).expect("room");
        out.push(say("#quiet", "hello")).expect("room");
        out.push(say("#Other", "hi")).expect("room");
        out.push(Message::new("JOIN", ["#new"])).expect("room");
        let first: Vec<String> = (0..5).filter_map(|_| out.pop()).map(|m| text(&m)).collect();
        assert_eq!(
            first,
            ["#new ", "#busy 0", "#quiet hello", "#Other hi", "#busy 1"]
        );
        let rest: Vec<Message> = std::iter::from_fn(|| out.pop()).collect();
        assert_eq!(rest.len(), 48);
        assert_eq!(out.queued(), 0);
    }

    #[test]
    fn full_queues_refuse_whole_messages() {
        let out = Outbox::new(QueueLimits {
            per_channel: 3,
            total: 5,
            control: 1,
        });
        out.push_all(vec![say("#a", "1"), say("#a", "2")])
            .expect("room");
        // Two more would pass the channel's 3: neither is queued.
        assert_eq!(
            out.push_all(vec![say("#A", "3"), say("#a", "4")]),
            Err(QueueError::ChannelFull {
                channel: "#a".into(),
                limit: 3
            })
        );
        assert_eq!(out.queued(), 2);
        out.push_all(vec![say("#b", "1"), say("#b", "2"), say("#b", "3")])
            .expect("room");
        assert_eq!(out.push(say("#c", "1")), Err(QueueError::Full { limit: 5 }));
        out.push(Message::new("JOIN", ["#d"])).expect("room");
        assert_eq!(
            out.push(Message::new("JOIN", ["#e"])),
            Err(QueueError::ControlFull { limit: 1 })
        );
        // Draining makes room again.
        assert!(out.pop().is_some() && out.pop().is_some());
        out.push(say("#c", "1")).expect("room");
    }

    #[tokio::test]
    async fn next_waits_for_a_line_and_ends_when_closed() {
        let out = std::sync::Arc::new(Outbox::new(QueueLimits::default()));
        let waiter = tokio::spawn({
            let out = out.clone();
            async move { (out.next().await, out.next().await) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        out.push(say("#a", "x")).expect("room");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        out.close();
        let (first, second) = waiter.await.expect("joins");
        assert_eq!(first, Some(say("#a", "x")));
        assert_eq!(second, None);
    }
}
