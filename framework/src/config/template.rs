//! The file `generate-config` writes: every key with its default, each
//! after the words of its doc comment.

use std::fmt::Write;

use serde_yaml::Value;

use super::load::{variable, BOT_KEY};
use super::schema::{Kind, Node};

/// The commented YAML of `value`, a settings value whose shape is `node`.
pub(crate) fn render(id: &str, value: &Value, node: &Node) -> String {
    let mut out = format!(
        "# The settings of {id}, each with its default.\n\
         #\n\
         # Every key can also be set in the environment: GHOSTKIT_ and the key\n\
         # with its parents, in capitals (GHOSTKIT_DISPATCH_MAX_BACKLOG for\n\
         # dispatch.max_backlog); with _FILE after it, the value is read from\n\
         # that file (for secrets). Command-line flags win over both.\n"
    );
    if let Value::Mapping(map) = value {
        mapping(&mut out, map, node, 0, &mut Vec::new());
    }
    out
}

fn mapping(
    out: &mut String,
    map: &serde_yaml::Mapping,
    node: &Node,
    indent: usize,
    path: &mut Vec<String>,
) {
    let pad = " ".repeat(indent);
    for (key, value) in map {
        let Value::String(key) = key else { continue };
        if indent == 0 && key == BOT_KEY && value.is_null() {
            continue;
        }
        let child = node.get(key);
        path.push(key.clone());
        out.push('\n');
        if let Some(text) = child.and_then(|c| c.description.as_deref()) {
            comment(out, &pad, text);
        }
        match (value, child.map(|c| &c.kind)) {
            (Value::Mapping(inner), Some(Kind::Object(_))) if !inner.is_empty() => {
                let _ = writeln!(out, "{pad}{key}:");
                if let Some(child) = child {
                    mapping(out, inner, child, indent + 2, path);
                }
            }
            _ => {
                if child.is_some_and(|c| !matches!(c.kind, Kind::Object(_))) {
                    let _ = writeln!(out, "{pad}# ({})", variable(path));
                }
                scalar(out, &pad, key, value);
            }
        }
        path.pop();
    }
}

/// `key: value`, or a block under `key:` for a list or a map.
fn scalar(out: &mut String, pad: &str, key: &str, value: &Value) {
    let empty = match value {
        Value::Sequence(s) => s.is_empty().then_some("[]"),
        Value::Mapping(m) => m.is_empty().then_some("{}"),
        _ => None,
    };
    let text = serde_yaml::to_string(value).unwrap_or_default();
    match (value, empty) {
        (_, Some(e)) => {
            let _ = writeln!(out, "{pad}{key}: {e}");
        }
        (Value::Sequence(_) | Value::Mapping(_), None) => {
            let _ = writeln!(out, "{pad}{key}:");
            for line in text.lines() {
                let _ = writeln!(out, "{pad}  {line}");
            }
        }
        _ => {
            let _ = writeln!(out, "{pad}{key}: {}", text.trim_end());
        }
    }
}

/// `text` as `# ` lines of at most 78 columns.
fn comment(out: &mut String, pad: &str, text: &str) {
    for paragraph in text.split("\n\n") {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && pad.len() + 2 + line.len() + 1 + word.len() > 78 {
                let _ = writeln!(out, "{pad}# {line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            let _ = writeln!(out, "{pad}# {line}");
        }
    }
}
