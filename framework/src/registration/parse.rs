//! From a parsed YAML document to a [`Registration`], with Synapse's rules.
//!
//! The reference is Synapse 1.163: `_load_appservice` in
//! synapse/config/appservice.py (field types, `url`, `sender_localpart`,
//! namespace shapes, `protocols`, flags) and `ApplicationService.__init__` /
//! `_check_namespaces` in synapse/appservice/__init__.py (regexes, `|` in the
//! id). Each check below names the Synapse lines it mirrors.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::{invalid, Namespace, NamespaceKind, Namespaces, Registration, RegistrationError};
use super::{RegistrationWarning, Scratch};

/// The scope Synapse 1.163 knows (`Scopes` in synapse/appservice/__init__.py).
const KNOWN_SCOPES: &[&str] = &["urn:matrix:client:io.element.msc4502:rooms:is_joined"];

/// Proxy prefixes Synapse lets an appservice claim (`ALLOWED_PROXY_PREFIXES`).
const ALLOWED_PROXY_PREFIXES: &[&str] = &["rtc/livekit"];

/// Every top-level key Synapse 1.163 reads from a registration; the first
/// [`READ_INTO_FIELDS`] are read into [`Registration`]'s fields, the others
/// are checked and kept among its extra keys.
pub(super) const TOP_LEVEL_KEYS: &[&str] = &[
    "id",
    "url",
    "as_token",
    "hs_token",
    "sender_localpart",
    "namespaces",
    "rate_limited",
    "protocols",
    "receive_ephemeral",
    "de.sorunome.msc2409.push_ephemeral",
    "org.matrix.msc3202",
    "io.element.msc4190",
    "ip_range_whitelist",
    "io.element.msc4502.scopes",
    "io.element.msc4512.proxy_prefix",
    "io.element.msc4512.proxy_url",
];

/// How many of [`TOP_LEVEL_KEYS`] have a field of their own.
const READ_INTO_FIELDS: usize = 12;

/// The keys Synapse reads in `namespaces`.
pub(super) const NAMESPACE_KEYS: &[&str] = &["users", "aliases", "rooms"];

/// The keys Synapse reads in one namespace entry.
pub(super) const ENTRY_KEYS: &[&str] = &["regex", "exclusive"];

/// For a missing `field`: a note on a key of `map` (not in `known`) that
/// looks like a typo of it, to add to the fix.
fn misspelt(map: &Mapping, field: &str, known: &[&'static str]) -> String {
    map.keys()
        .filter_map(Value::as_str)
        .filter(|k| !known.contains(k))
        .find(|k| crate::config::nearest(k, known) == Some(field))
        .map(|k| format!(" (the file has `{k}`, which nobody reads: rename it to `{field}`)"))
        .unwrap_or_default()
}

/// What a YAML value is, in the words an error message needs.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Python's truthiness, which Synapse applies to some optional keys.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Sequence(s) => !s.is_empty(),
        Value::Mapping(m) => !m.is_empty(),
        Value::Tagged(_) => true,
    }
}

/// YAML 1.1 (PyYAML, so Synapse) reads these bare words as bools; YAML 1.2
/// (serde_yaml, so Ghostkit) as strings. Quoted, both read a string.
fn yaml11_bool_word(v: &Value) -> bool {
    const WORDS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    ];
    matches!(v, Value::String(s) if WORDS.contains(&s.as_str()))
}

/// A value as a short YAML snippet, for messages.
fn show(v: &Value) -> String {
    serde_yaml::to_string(v)
        .map(|s| s.trim().replace('\n', " "))
        .unwrap_or_default()
}

/// `urllib.parse.quote(localpart) == localpart`: only unreserved characters
/// and `/` (quote's default `safe`) survive quoting unchanged.
pub(crate) fn survives_url_quote(localpart: &str) -> bool {
    localpart
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-~/".contains(&b))
}

/// Reads the whole document. `text` is only used for its error positions.
pub(crate) fn registration(doc: Value) -> Result<Registration, RegistrationError> {
    // `yaml.safe_load` gives None for an empty file and lists for lists; both
    // fail on `as_info.get(...)`.
    let map = match doc {
        Value::Mapping(m) => m,
        other => {
            return Err(RegistrationError::Syntax {
                message: format!(
                    "the file holds {}, not a mapping of `key: value` lines",
                    kind_of(&other)
                ),
            })
        }
    };
    let mut scratch = Scratch::default();

    // appservice.py: `required_string_fields = ["id", "as_token", "hs_token",
    // "sender_localpart"]`, each `isinstance(as_info.get(field), str)`.
    let id = required_string(
        &map,
        "id",
        "give the appservice a unique id, e.g. `id: my-bridge`",
    )?;
    let as_token = required_string(
        &map,
        "as_token",
        "set a long random secret, or run the `generate-registration` command",
    )?;
    let hs_token = required_string(
        &map,
        "hs_token",
        "set a long random secret, or run the `generate-registration` command",
    )?;
    let sender_localpart = required_string(
        &map,
        "sender_localpart",
        "name the appservice's own user, e.g. `sender_localpart: mybot`",
    )?;

    // appservice.py: "'url' must either be a string or explicitly null, not
    // missing to avoid accidentally turning off push for ASes."
    let url = match map.get("url") {
        None => {
            return Err(invalid(
                "url",
                "is missing",
                format!(
                    "add `url: http://127.0.0.1:9000` (where the appservice listens), or `url: null` if the homeserver should send it nothing{}",
                    misspelt(&map, "url", TOP_LEVEL_KEYS)
                ),
            ))
        }
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(invalid(
                "url",
                format!("is {}, not a string or null", kind_of(other)),
                "write the URL in quotes, e.g. `url: \"http://127.0.0.1:9000\"`, or `url: null`",
            ))
        }
    };

    // appservice.py: `rate_limited = as_info.get("rate_limited")`; anything
    // but a bool means true.
    let rate_limited = match map.get("rate_limited") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Null) => None,
        Some(other) => {
            scratch.warnings.push(RegistrationWarning::NotBool {
                field: "rate_limited".into(),
                value: show(other),
                read_as: true,
            });
            Some(true)
        }
    };

    // appservice.py: `if not isinstance(as_info.get("namespaces"), dict)`.
    let namespaces = match map.get("namespaces") {
        None => {
            return Err(invalid(
                "namespaces",
                "is missing",
                format!(
                    "add `namespaces:` with `users:`, `aliases:` and `rooms:` lists (each may be `[]`){}",
                    misspelt(&map, "namespaces", TOP_LEVEL_KEYS)
                ),
            ))
        }
        Some(Value::Mapping(m)) => namespaces(m)?,
        Some(other) => {
            return Err(invalid(
                "namespaces",
                format!("is {}, not a mapping", kind_of(other)),
                "write `namespaces:` with `users:`, `aliases:` and `rooms:` lists below it (each may be `[]`)",
            ))
        }
    };

    // appservice.py: `protocols = as_info.get("protocols")`; checked only
    // when truthy, so null, `[]` and even `false` mean none.
    let protocols = match map.get("protocols") {
        Some(v) if truthy(v) => {
            let Value::Sequence(list) = v else {
                return Err(invalid(
                    "protocols",
                    format!("is {}, not a list", kind_of(v)),
                    "write a list of protocol names, e.g. `protocols: [irc]`",
                ));
            };
            list.iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(invalid(
                        format!("protocols[{i}]"),
                        format!("is {}, not a string", kind_of(other)),
                        "write each protocol as a name, e.g. `protocols: [irc]`",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => Vec::new(),
    };

    // appservice.py: `if as_info.get("ip_range_whitelist"): IPSet(...)`.
    if let Some(v) = map.get("ip_range_whitelist").filter(|v| truthy(v)) {
        ip_ranges(v)?;
    }

    // appservice.py: both ephemeral keys are read with `as_info.get(key,
    // False)` and used for their truthiness.
    let mut ephemeral = |key: &str| match map.get(key) {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            let read_as = truthy(other);
            scratch.warnings.push(RegistrationWarning::NotBool {
                field: key.into(),
                value: show(other),
                read_as,
            });
            Some(read_as)
        }
    };
    let push_ephemeral_unstable = ephemeral("de.sorunome.msc2409.push_ephemeral");
    let receive_ephemeral = ephemeral("receive_ephemeral");

    // appservice.py: "The `org.matrix.msc3202` option should be true or
    // false if specified." (and the same for `io.element.msc4190`).
    let msc3202 = strict_bool(&map, "org.matrix.msc3202")?;
    let msc4190 = strict_bool(&map, "io.element.msc4190")?;

    // appservice.py: `io.element.msc4502.scopes` is a list of strings;
    // __init__.py: each must be a known `Scopes` value.
    if let Some(v) = map.get("io.element.msc4502.scopes") {
        scopes(v)?;
    }
    // appservice.py / __init__.py: MSC4512 proxy settings.
    proxy(&map)?;

    // The keys read into fields; the others Synapse reads (ip ranges,
    // scopes, proxy) were checked above and are kept as they are written.
    let extra = leftovers(&map, &TOP_LEVEL_KEYS[..READ_INTO_FIELDS]);

    let mut reg = Registration {
        id,
        url,
        as_token,
        hs_token,
        sender_localpart,
        namespaces,
        rate_limited,
        protocols,
        receive_ephemeral,
        push_ephemeral_unstable,
        msc3202,
        msc4190,
        extra,
        scratch: Scratch::default(),
    };
    let type_warnings = std::mem::take(&mut scratch.warnings);
    reg.validate()?;
    // Type warnings first: they are about the file's shape.
    let mut all = type_warnings;
    all.append(&mut reg.scratch.warnings);
    reg.scratch.warnings = all;
    Ok(reg)
}

fn required_string(map: &Mapping, field: &str, fix: &str) -> Result<String, RegistrationError> {
    match map.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        None => Err(invalid(
            field,
            "is missing",
            format!("{fix}{}", misspelt(map, field, TOP_LEVEL_KEYS)),
        )),
        Some(other) => Err(invalid(
            field,
            format!("is {}, not a string", kind_of(other)),
            format!(
                "put the value in quotes, e.g. `{field}: \"{}\"`",
                show(other)
            ),
        )),
    }
}

fn strict_bool(map: &Mapping, field: &str) -> Result<Option<bool>, RegistrationError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(invalid(
            field,
            format!("is {}, not `true` or `false`", kind_of(other)),
            format!("write `{field}: true` or `{field}: false`, or remove the key"),
        )),
    }
}

/// appservice.py checks the entry shapes (`regex` first, then `exclusive`);
/// __init__.py `_check_namespaces` needs each present kind to be a list.
/// Other keys of `namespaces` are ignored by Synapse and kept by us.
fn namespaces(map: &Mapping) -> Result<Namespaces, RegistrationError> {
    let mut lists: BTreeMap<NamespaceKind, Vec<Namespace>> = BTreeMap::new();
    for kind in NamespaceKind::ALL {
        let Some(value) = map.get(kind.as_str()) else {
            continue;
        };
        let Value::Sequence(items) = value else {
            return Err(invalid(
                format!("namespaces.{kind}"),
                format!("is {}, not a list", kind_of(value)),
                format!(
                    "write a list of `{{regex: '…', exclusive: true}}` entries, or `{kind}: []`"
                ),
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("namespaces.{kind}[{i}]");
            let Value::Mapping(entry) = item else {
                return Err(invalid(
                    field,
                    format!("is {}, not a mapping", kind_of(item)),
                    "write each entry as `- regex: '…'` with `exclusive: true` (or false) below it",
                ));
            };
            let regex =
                match entry.get("regex") {
                    Some(Value::String(s)) => s.clone(),
                    None => return Err(invalid(
                        format!("{field}.regex"),
                        "is missing",
                        format!(
                            "add `regex: '…'` (in single quotes, so `\\.` stays a backslash and a dot){}",
                            misspelt(entry, "regex", ENTRY_KEYS)
                        ),
                    )),
                    Some(other) => return Err(invalid(
                        format!("{field}.regex"),
                        format!("is {}, not a string", kind_of(other)),
                        "write the regex in single quotes, e.g. `regex: '@_bot_.*:example\\.org'`",
                    )),
                };
            let exclusive = match entry.get("exclusive") {
                Some(Value::Bool(b)) => *b,
                None => {
                    return Err(invalid(
                        format!("{field}.exclusive"),
                        "is missing (Synapse has no default for it)",
                        format!(
                            "add `exclusive: true` (only this appservice may use these IDs) or `exclusive: false`{}",
                            misspelt(entry, "exclusive", ENTRY_KEYS)
                        ),
                    ))
                }
                Some(other) => {
                    let hint = if yaml11_bool_word(other) {
                        " (a bare `yes`/`no`/`on`/`off` is a bool for Synapse's YAML 1.1 reader but a string for Ghostkit's YAML 1.2 one)"
                    } else {
                        ""
                    };
                    return Err(invalid(
                        format!("{field}.exclusive"),
                        format!("is {}, not `true` or `false`{hint}", kind_of(other)),
                        "write `exclusive: true` or `exclusive: false`",
                    ));
                }
            };
            out.push(Namespace {
                regex,
                exclusive,
                extra: leftovers(entry, &["regex", "exclusive"]),
            });
        }
        lists.insert(kind, out);
    }
    let mut take = |k| lists.remove(&k).unwrap_or_default();
    Ok(Namespaces {
        users: take(NamespaceKind::Users),
        aliases: take(NamespaceKind::Aliases),
        rooms: take(NamespaceKind::Rooms),
        extra: leftovers(map, &["users", "aliases", "rooms"]),
    })
}

/// Keys not in `known`, kept for writing the file back. Synapse ignores them.
/// A key that is not a string is kept under its YAML spelling.
fn leftovers(map: &Mapping, known: &[&str]) -> BTreeMap<String, Value> {
    map.iter()
        .filter_map(|(k, v)| {
            let key = match k {
                Value::String(s) => s.clone(),
                other => show(other),
            };
            (!known.contains(&key.as_str())).then(|| (key, v.clone()))
        })
        .collect()
}

/// `IPSet(as_info.get("ip_range_whitelist"))`: a list of addresses or CIDR
/// ranges.
fn ip_ranges(v: &Value) -> Result<(), RegistrationError> {
    let fix =
        "write a list of addresses or ranges, e.g. `ip_range_whitelist: ['10.0.0.0/8', '::1']`";
    let Value::Sequence(list) = v else {
        return Err(invalid(
            "ip_range_whitelist",
            format!("is {}, not a list", kind_of(v)),
            fix,
        ));
    };
    for (i, item) in list.iter().enumerate() {
        let ok = match item {
            Value::String(s) => {
                let (addr, prefix) = match s.split_once('/') {
                    Some((a, p)) => (a, Some(p)),
                    None => (s.as_str(), None),
                };
                match addr.parse::<std::net::IpAddr>() {
                    Ok(ip) => prefix.is_none_or(|p| {
                        let max = if ip.is_ipv4() { 32 } else { 128 };
                        p.parse::<u8>().is_ok_and(|n| n <= max)
                    }),
                    Err(_) => false,
                }
            }
            _ => false,
        };
        if !ok {
            return Err(invalid(
                format!("ip_range_whitelist[{i}]"),
                format!("`{}` is not an IP address or CIDR range", show(item)),
                fix,
            ));
        }
    }
    Ok(())
}

fn scopes(v: &Value) -> Result<(), RegistrationError> {
    let field = "io.element.msc4502.scopes";
    let Value::Sequence(list) = v else {
        return Err(invalid(
            field,
            format!("is {}, not a list of strings", kind_of(v)),
            "write a list, e.g. `io.element.msc4502.scopes: []`, or remove the key",
        ));
    };
    for (i, s) in list.iter().enumerate() {
        match s {
            Value::String(s) if KNOWN_SCOPES.contains(&s.as_str()) => {}
            Value::String(s) => {
                return Err(invalid(
                    format!("{field}[{i}]"),
                    format!("`{s}` is not a scope Synapse knows"),
                    format!("use one of: {}", KNOWN_SCOPES.join(", ")),
                ))
            }
            other => {
                return Err(invalid(
                    format!("{field}[{i}]"),
                    format!("is {}, not a string", kind_of(other)),
                    format!("use one of: {}", KNOWN_SCOPES.join(", ")),
                ))
            }
        }
    }
    Ok(())
}

/// MSC4512: `proxy_prefix` and `proxy_url` are non-empty strings, set
/// together, and the prefix is one Synapse allows.
fn proxy(map: &Mapping) -> Result<(), RegistrationError> {
    let prefix_key = "io.element.msc4512.proxy_prefix";
    let url_key = "io.element.msc4512.proxy_url";
    let read = |key: &str| -> Result<Option<String>, RegistrationError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(other) => Err(invalid(
                key,
                format!("is {}, not a non-empty string", show(other)),
                format!("write `{key}: '…'` or remove the key"),
            )),
        }
    };
    let prefix = read(prefix_key)?;
    let url = read(url_key)?;
    match (&prefix, &url) {
        (None, None) => Ok(()),
        (Some(_), None) | (None, Some(_)) => Err(invalid(
            if prefix.is_none() {
                prefix_key
            } else {
                url_key
            },
            "is missing while its partner is set",
            format!("set both `{prefix_key}` and `{url_key}`, or neither"),
        )),
        (Some(p), Some(u)) => {
            if u.trim_end_matches('/').is_empty() {
                return Err(invalid(url_key, "is only slashes", "write the proxy's URL"));
            }
            let allowed = ALLOWED_PROXY_PREFIXES
                .iter()
                .any(|a| p == a || p.starts_with(&format!("{a}/")));
            if allowed {
                Ok(())
            } else {
                Err(invalid(
                    prefix_key,
                    format!("`{p}` is not a prefix Synapse lets appservices claim"),
                    format!("use one of: {}", ALLOWED_PROXY_PREFIXES.join(", ")),
                ))
            }
        }
    }
}
