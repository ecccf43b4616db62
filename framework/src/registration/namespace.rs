//! The namespace entries of a registration: users, aliases, rooms.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The three kinds of namespace, in Synapse's order (`NS_LIST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NamespaceKind {
    /// `namespaces.users`: user IDs (`@…`).
    Users,
    /// `namespaces.aliases`: room aliases (`#…`).
    Aliases,
    /// `namespaces.rooms`: room IDs (`!…`).
    Rooms,
}

impl NamespaceKind {
    /// All three, in the order Synapse checks them.
    pub const ALL: [NamespaceKind; 3] = [
        NamespaceKind::Users,
        NamespaceKind::Aliases,
        NamespaceKind::Rooms,
    ];

    /// The key in the file: `users`, `aliases`, `rooms`.
    pub fn as_str(self) -> &'static str {
        match self {
            NamespaceKind::Users => "users",
            NamespaceKind::Aliases => "aliases",
            NamespaceKind::Rooms => "rooms",
        }
    }

    /// One ID of this kind in words: `user`, `alias`, `room`.
    pub fn noun(self) -> &'static str {
        match self {
            NamespaceKind::Users => "user",
            NamespaceKind::Aliases => "alias",
            NamespaceKind::Rooms => "room",
        }
    }
}

impl fmt::Display for NamespaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One namespace entry: a regex and whether the appservice claims it exclusively.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Namespace {
    /// Python regex matched from the start of the ID (`@_irc_.*:example\.org`).
    pub regex: String,
    /// Whether other users may not create IDs in this namespace. Required:
    /// Synapse refuses an entry without it.
    pub exclusive: bool,
    /// Keys we do not know, kept when re-writing.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
}

/// The three kinds of namespace.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Namespaces {
    /// User IDs the appservice acts as.
    #[serde(default)]
    pub users: Vec<Namespace>,
    /// Room aliases the appservice manages.
    #[serde(default)]
    pub aliases: Vec<Namespace>,
    /// Room IDs the appservice wants events for.
    #[serde(default)]
    pub rooms: Vec<Namespace>,
    /// Keys we do not know, kept when re-writing.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
}

impl Namespaces {
    /// The list of one kind.
    pub fn of(&self, kind: NamespaceKind) -> &[Namespace] {
        match kind {
            NamespaceKind::Users => &self.users,
            NamespaceKind::Aliases => &self.aliases,
            NamespaceKind::Rooms => &self.rooms,
        }
    }
}
