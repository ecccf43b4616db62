//! Reading the settings: the defaults, then the file, then the
//! `GHOSTKIT_*` environment over it, each key checked against the shape
//! of the settings ([`Node`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

use super::schema::{Kind, Node};
use super::{nearest, ConfigError};

/// The prefix of every environment variable that sets a key.
pub const ENV_PREFIX: &str = "GHOSTKIT_";

/// The variable that names the config file when `--config` is not given.
pub const CONFIG_VAR: &str = "GHOSTKIT_CONFIG";

/// The prefix of the variables the test helpers read
/// ([`crate::testing`]); no setting is named by them, and the settings
/// leave them alone.
pub const TEST_PREFIX: &str = "GHOSTKIT_TEST_";

/// The key of the bot's own settings.
pub(crate) const BOT_KEY: &str = "bot";

/// Where the settings come from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The config file.
    pub path: PathBuf,
    /// Whether the file was named (`--config`, `GHOSTKIT_CONFIG`): then it
    /// must exist; the default path may be absent.
    pub named: bool,
    /// The environment.
    pub vars: BTreeMap<String, String>,
}

impl Sources {
    /// The file named by `named` or `GHOSTKIT_CONFIG`, else `<id>.yaml`,
    /// and these variables.
    pub fn new(id: &str, named: Option<PathBuf>, vars: BTreeMap<String, String>) -> Sources {
        let named = named.or_else(|| vars.get(CONFIG_VAR).map(PathBuf::from));
        Sources {
            path: named
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{id}.yaml"))),
            named: named.is_some(),
            vars,
        }
    }

    /// Reads `T` (a [`Settings`](super::Settings)) whose shape is `node`:
    /// unknown keys and variables are errors, except under `bot` when
    /// `with_bot` is false (the registration commands, which do not read
    /// the bot's settings).
    pub(crate) fn read<T: DeserializeOwned>(
        &self,
        node: &Node,
        with_bot: bool,
    ) -> Result<T, ConfigError> {
        let mut value = self.file_value()?;
        if !with_bot {
            if let Value::Mapping(map) = &mut value {
                map.remove(BOT_KEY);
            }
        }
        check_keys(&value, node, "", &self.path)?;
        apply_env(&mut value, node, &self.vars, with_bot)?;
        let mut track = serde_path_to_error::Track::new();
        let de = serde_path_to_error::Deserializer::new(value, &mut track);
        T::deserialize(de).map_err(|e| ConfigError::Value {
            key: track.path().to_string(),
            message: e.to_string(),
        })
    }

    /// The file's mapping; an empty one when the default file is absent.
    fn file_value(&self) -> Result<Value, ConfigError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.named => {
                return Ok(Value::Mapping(Mapping::new()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing(self.path.clone()))
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let value: Value = serde_yaml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        match value {
            Value::Null => Ok(Value::Mapping(Mapping::new())),
            Value::Mapping(_) => Ok(value),
            _ => Err(ConfigError::NotAMapping(self.path.clone())),
        }
    }
}

/// Refuses a key of `value` that `node` does not have, naming the known
/// one nearest to it.
fn check_keys(value: &Value, node: &Node, parent: &str, file: &Path) -> Result<(), ConfigError> {
    let (Value::Mapping(map), Kind::Object(known)) = (value, &node.kind) else {
        return Ok(());
    };
    for (key, inner) in map {
        let name = match key {
            Value::String(s) => s.clone(),
            other => serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_owned(),
        };
        let full = join(parent, &name);
        match node.get(&name) {
            Some(child) => check_keys(inner, child, &full, file)?,
            None => {
                let names: Vec<&str> = known.iter().map(|(k, _)| k.as_str()).collect();
                return Err(ConfigError::UnknownKey {
                    path: file.to_owned(),
                    suggestion: nearest(&name, &names).map(|s| join(parent, s)),
                    key: full,
                });
            }
        }
    }
    Ok(())
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Every key that is not a mapping of known keys: its path and node.
fn leaves<'n>(node: &'n Node, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, &'n Node)>) {
    match &node.kind {
        Kind::Object(keys) if !keys.is_empty() => {
            for (key, child) in keys {
                path.push(key.clone());
                leaves(child, path, out);
                path.pop();
            }
        }
        _ => out.push((path.clone(), node)),
    }
}

/// The variable that sets the key at `path`: `GHOSTKIT_DISPATCH_MAX_BACKLOG`
/// for `dispatch.max_backlog`.
pub(crate) fn variable(path: &[String]) -> String {
    format!("{ENV_PREFIX}{}", path.join("_").to_ascii_uppercase())
}

/// The variable of a key written with its parents (`dispatch.order`).
/// An item's index (`outbound_allow[0]`) is left out: the variable sets
/// the whole list.
pub(crate) fn variable_of(key: &str) -> String {
    let key = key.split('[').next().unwrap_or(key);
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

/// The environment variables of `node`'s keys, each with its key.
pub(crate) fn variables(node: &Node) -> Vec<(String, Vec<String>, &Node)> {
    let mut out = Vec::new();
    leaves(node, &mut Vec::new(), &mut out);
    out.into_iter()
        .map(|(path, n)| (variable(&path), path, n))
        .collect()
}

/// Sets the keys named by `GHOSTKIT_*` variables (or read from the files
/// their `_FILE` variants name); refuses a variable that names no key.
fn apply_env(
    value: &mut Value,
    node: &Node,
    vars: &BTreeMap<String, String>,
    with_bot: bool,
) -> Result<(), ConfigError> {
    let known = variables(node);
    let bot_prefix = format!("{ENV_PREFIX}{}_", BOT_KEY.to_ascii_uppercase());
    for name in vars.keys() {
        if !name.starts_with(ENV_PREFIX) || name == CONFIG_VAR || name.starts_with(TEST_PREFIX) {
            continue;
        }
        if !with_bot && name.starts_with(&bot_prefix) {
            continue;
        }
        let base = name.strip_suffix("_FILE").unwrap_or(name);
        let is_known = known.iter().any(|(v, _, _)| v == name || v == base);
        if !is_known {
            let mut names: Vec<&str> = known.iter().map(|(v, _, _)| v.as_str()).collect();
            names.push(CONFIG_VAR);
            return Err(ConfigError::UnknownVariable {
                name: name.clone(),
                suggestion: nearest(name, &names).map(str::to_owned),
            });
        }
    }
    for (var, path, leaf) in &known {
        if !with_bot && path.first().map(String::as_str) == Some(BOT_KEY) {
            continue;
        }
        let file_var = format!("{var}_FILE");
        let raw = match (vars.get(var), vars.get(&file_var)) {
            (Some(_), Some(_)) => return Err(ConfigError::BothSet { name: var.clone() }),
            (Some(v), None) => v.clone(),
            (None, Some(file)) => read_secret(&file_var, Path::new(file))?,
            (None, None) => continue,
        };
        set(value, path, env_value(&raw, &leaf.kind));
    }
    Ok(())
}

/// A secret's file, without the line ends a file usually closes with.
fn read_secret(name: &str, path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
        name: name.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// A variable's text as the value of a key of this kind: text stays text
/// (a prefix `!mod` is not a YAML tag), a list is comma-separated (or YAML
/// `[a, b]`), anything else is read as YAML (`true`, `5`, `null`).
fn env_value(raw: &str, kind: &Kind) -> Value {
    let yaml = || serde_yaml::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.into()));
    match kind {
        Kind::String => Value::String(raw.to_owned()),
        Kind::Array if raw.trim_start().starts_with('[') => yaml(),
        Kind::Array => Value::Sequence(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        Kind::Bool | Kind::Number | Kind::FreeMap | Kind::Object(_) | Kind::Other => yaml(),
    }
}

/// Puts `new` at `path` in `value`, making the mappings on the way.
fn set(value: &mut Value, path: &[String], new: Value) {
    let Some((last, parents)) = path.split_last() else {
        *value = new;
        return;
    };
    let mut at = value;
    for key in parents {
        if !at.is_mapping() {
            *at = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = at else { return };
        at = map
            .entry(Value::String(key.clone()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    if !at.is_mapping() {
        *at = Value::Mapping(Mapping::new());
    }
    if let Value::Mapping(map) = at {
        map.insert(Value::String(last.clone()), new);
    }
}
