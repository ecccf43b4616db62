//! Portals: one Matrix room per IRC channel, remembered in the store
//! (tree `ircbridge.portals`, key: the casefolded channel), and who may
//! have one made by joining its alias.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ghostkit::prelude::*;
use serde::{Deserialize, Serialize};

use crate::irc::{casefold, check_channel, ChannelNameError};

const TREE: &str = "ircbridge.portals";

/// One bridged channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portal {
    /// The channel as first spelled (`#Rust`).
    pub channel: String,
    /// Its Matrix room.
    pub room_id: OwnedRoomId,
}

/// The portals, in memory and in the store.
#[derive(Debug, Clone)]
pub struct Portals {
    store: Store,
    by_channel: Arc<RwLock<HashMap<String, Portal>>>,
}

impl Portals {
    /// The portals of `store`, none read yet: [`Portals::load`] reads them.
    pub fn new(store: &Store) -> Self {
        Portals {
            store: store.clone(),
            by_channel: Arc::default(),
        }
    }

    /// Reads the stored portals, replacing those held; one whose channel
    /// IRC would misread, or that cannot be read, is skipped with a warning.
    pub async fn load(&self) -> anyhow::Result<()> {
        let mut map = HashMap::new();
        for (key, value) in self.store.tree(TREE)?.entries().await? {
            match serde_json::from_slice::<Portal>(&value) {
                Ok(p) => match check_channel(&p.channel) {
                    Ok(()) => {
                        map.insert(String::from_utf8_lossy(&key).into_owned(), p);
                    }
                    // Kept in the store for the operator to see, never joined.
                    Err(e) => {
                        tracing::warn!(room = %p.room_id, error = %e, "skipping a portal whose channel IRC would misread")
                    }
                },
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable portal"),
            }
        }
        *self.by_channel.write().unwrap_or_else(|p| p.into_inner()) = map;
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Portal>> {
        self.by_channel.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The portal of `channel`.
    pub fn by_channel(&self, channel: &str) -> Option<Portal> {
        self.read().get(&casefold(channel)).cloned()
    }

    /// The portal of `room`.
    pub fn by_room(&self, room: &RoomId) -> Option<Portal> {
        self.read().values().find(|p| p.room_id == room).cloned()
    }

    /// Every portal, by channel name.
    pub fn all(&self) -> Vec<Portal> {
        let mut all: Vec<Portal> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.channel.cmp(&b.channel));
        all
    }

    /// Remembers a portal (durably).
    pub async fn insert(&self, portal: Portal) -> anyhow::Result<()> {
        let key = casefold(&portal.channel);
        self.store.put_json(TREE, &key, &portal).await?;
        self.store.flush().await?;
        self.by_channel
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, portal);
        Ok(())
    }

    /// Forgets the portal of `channel`; returns it.
    pub async fn remove(&self, channel: &str) -> anyhow::Result<Option<Portal>> {
        let key = casefold(channel);
        self.store.remove(TREE, &key).await?;
        self.store.flush().await?;
        Ok(self
            .by_channel
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key))
    }
}

/// A pattern of channels whose alias may make a portal: `*` matches any
/// run of characters, `?` one; compared casefolded, as IRC compares names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasPattern {
    folded: Vec<char>,
}

impl AliasPattern {
    /// The pattern `pattern`; refused unless, with `x` for its wildcards,
    /// it is a channel name.
    ///
    /// ```
    /// use ircbridge::portal::AliasPattern;
    /// let p = AliasPattern::new("#ghostkit-*").expect("a pattern");
    /// assert!(p.matches("#GhostKit-dev") && !p.matches("#ghostkit"));
    /// assert!(AliasPattern::new("*").is_err());
    /// ```
    pub fn new(pattern: &str) -> Result<Self, ChannelNameError> {
        check_channel(&pattern.replace(['*', '?'], "x"))?;
        Ok(AliasPattern {
            folded: casefold(pattern).chars().collect(),
        })
    }

    /// Whether `channel` matches.
    pub fn matches(&self, channel: &str) -> bool {
        let name: Vec<char> = casefold(channel).chars().collect();
        // Iterative glob: on a mismatch, go back to the last `*` and let it take one more.
        let (mut p, mut n) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match self.folded.get(p) {
                Some('*') => {
                    star = Some((p, n));
                    p += 1;
                }
                Some(&c) if c == '?' || c == name[n] => {
                    p += 1;
                    n += 1;
                }
                _ => match star {
                    Some((sp, sn)) => {
                        p = sp + 1;
                        n = sn + 1;
                        star = Some((sp, sn + 1));
                    }
                    None => return false,
                },
            }
        }
        self.folded[p..].iter().all(|&c| c == '*')
    }
}

/// Why an alias made no portal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasRefusal {
    /// The alias names no valid channel.
    #[error("not a channel: {0}")]
    BadChannel(#[from] ChannelNameError),
    /// No `alias_channels` pattern matches the channel.
    #[error("{0} is not among the channels aliases may bridge (alias_channels)")]
    NotAllowed(String),
    /// Aliases made `alias_portals_per_hour` portals in the last hour.
    #[error(
        "aliases made {0} portals in the last hour, the most allowed (alias_portals_per_hour)"
    )]
    RateLimited(u32),
}

/// Which channels may get a portal from an alias, and how many an hour.
#[derive(Debug)]
pub struct AliasPolicy {
    patterns: Vec<AliasPattern>,
    per_hour: u32,
    made: Mutex<VecDeque<Instant>>,
}

impl AliasPolicy {
    /// The policy of `patterns` (invalid ones are left out: the config
    /// check refuses them first) and `per_hour`.
    pub fn new(patterns: &[String], per_hour: u32) -> Self {
        AliasPolicy {
            patterns: patterns
                .iter()
                .filter_map(|p| AliasPattern::new(p).ok())
                .collect(),
            per_hour,
            made: Mutex::default(),
        }
    }

    /// Whether an alias may make the portal of `channel` at `now`; a yes
    /// counts towards the hour's limit.
    ///
    /// ```
    /// use std::time::Instant;
    /// use ircbridge::portal::{AliasPolicy, AliasRefusal};
    /// let policy = AliasPolicy::new(&["#ok-*".into()], 1);
    /// let now = Instant::now();
    /// assert_eq!(policy.admit("#ok-1", now), Ok(()));
    /// assert_eq!(policy.admit("#ok-2", now), Err(AliasRefusal::RateLimited(1)));
    /// assert!(matches!(policy.admit("#other", now), Err(AliasRefusal::NotAllowed(_))));
    /// ```
    pub fn admit(&self, channel: &str, now: Instant) -> Result<(), AliasRefusal> {
        check_channel(channel)?;
        if !self.patterns.iter().any(|p| p.matches(channel)) {
            return Err(AliasRefusal::NotAllowed(channel.to_owned()));
        }
        let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        let hour = Duration::from_secs(3600);
        while made
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= hour)
        {
            made.pop_front();
        }
        if made.len() >= self.per_hour as usize {
            return Err(AliasRefusal::RateLimited(self.per_hour));
        }
        made.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_globs_casefolded() {
        let p = |s: &str| AliasPattern::new(s).expect("a pattern");
        assert!(p("#*").matches("#anything"));
        assert!(p("#rust").matches("#Rust") && !p("#rust").matches("#rusty"));
        assert!(p("#a?c").matches("#abc") && !p("#a?c").matches("#ac"));
        assert!(p("#*-dev*").matches("#x-dev-y") && p("#*-dev*").matches("#-dev"));
        assert!(!p("#*-dev").matches("#x-dev-y"));
        assert!(p("#[m]*").matches("#{M}x"), "IRC casefolding");
        for bad in ["*", "rust", "#a,*", "#a b", "#\u{7}*"] {
            assert!(AliasPattern::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_patterns_means_no_alias_portals_and_the_hour_refills() {
        let now = Instant::now();
        let off = AliasPolicy::new(&[], 10);
        assert!(matches!(
            off.admit("#rust", now),
            Err(AliasRefusal::NotAllowed(_))
        ));
        let policy = AliasPolicy::new(&["#*".into()], 2);
        assert!(matches!(
            policy.admit("#a,#b", now),
            Err(AliasRefusal::BadChannel(_))
        ));
        assert!(matches!(
            policy.admit("#bell\u{7}", now),
            Err(AliasRefusal::BadChannel(_))
        ));
        assert_eq!(policy.admit("#a", now), Ok(()));
        assert_eq!(policy.admit("#b", now), Ok(()));
        assert_eq!(policy.admit("#c", now), Err(AliasRefusal::RateLimited(2)));
        let later = now + Duration::from_secs(3601);
        assert_eq!(policy.admit("#c", later), Ok(()));
    }
}
