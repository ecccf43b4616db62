//! The shape of the settings, read from their JSON schema (`schemars`,
//! made from the types and their doc comments): which keys exist, what
//! each holds, and the words that describe it. The unknown-key check, the
//! environment overrides and `generate-config` all walk it.

use serde_json::Value as Json;

/// One key's place in the settings.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The doc comment of the field, if any.
    pub description: Option<String>,
    /// What the key holds.
    pub kind: Kind,
}

/// What a key holds.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A mapping of known keys, in the order the schema lists them.
    Object(Vec<(String, Node)>),
    /// A mapping whose keys are the user's (a map field).
    FreeMap,
    /// A list.
    Array,
    /// Text.
    String,
    /// `true` or `false`.
    Bool,
    /// A number (whole or not).
    Number,
    /// Anything else (nothing, or a shape the walk does not know).
    Other,
}

impl Node {
    /// The shape of `T`'s settings.
    pub fn of<T: schemars::JsonSchema>() -> Node {
        let schema = schemars::schema_for!(T);
        let root = schema.as_value();
        let defs = root.get("$defs").cloned().unwrap_or(Json::Null);
        node(root, &defs, 0)
    }

    /// The known keys of a mapping.
    pub fn keys(&self) -> &[(String, Node)] {
        match &self.kind {
            Kind::Object(keys) => keys,
            _ => &[],
        }
    }

    /// The node of key `name`, in a mapping.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.keys().iter().find(|(k, _)| k == name).map(|(_, n)| n)
    }
}

/// Deeper than this, a schema is taken as [`Kind::Other`]: a type that
/// contains itself stops here.
const MAX_DEPTH: usize = 16;

fn node(schema: &Json, defs: &Json, depth: usize) -> Node {
    let description = schema
        .get("description")
        .and_then(Json::as_str)
        .map(str::to_owned);
    let mut inner = resolve(schema, defs, depth);
    if description.is_some() {
        inner.description = description;
    }
    inner
}

fn resolve(schema: &Json, defs: &Json, depth: usize) -> Node {
    let other = Node {
        description: None,
        kind: Kind::Other,
    };
    if depth > MAX_DEPTH {
        return other;
    }
    if let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
        let target = reference
            .strip_prefix("#/$defs/")
            .and_then(|name| defs.get(name));
        return match target {
            Some(t) => node(t, defs, depth + 1),
            None => other,
        };
    }
    // `Option<T>` is `anyOf: [T, null]`; an enum of documented strings is
    // `oneOf` of `const`s: the first variant that is not `null` says.
    for combinator in ["anyOf", "oneOf"] {
        if let Some(variants) = schema.get(combinator).and_then(Json::as_array) {
            let all_text = variants
                .iter()
                .all(|v| v.get("const").is_some_and(Json::is_string) || is_type(v, "string"));
            if all_text {
                return Node {
                    description: None,
                    kind: Kind::String,
                };
            }
            if let Some(v) = variants.iter().find(|v| !is_only_null(v)) {
                return node(v, defs, depth + 1);
            }
        }
    }
    let kind = match first_type(schema) {
        Some("object") => match schema.get("properties").and_then(Json::as_object) {
            Some(props) => Kind::Object(
                props
                    .iter()
                    .map(|(k, v)| (k.clone(), node(v, defs, depth + 1)))
                    .collect(),
            ),
            None => Kind::FreeMap,
        },
        Some("array") => Kind::Array,
        Some("string") => Kind::String,
        Some("boolean") => Kind::Bool,
        Some("integer" | "number") => Kind::Number,
        _ if schema.get("enum").is_some() => Kind::String,
        _ => Kind::Other,
    };
    Node {
        description: None,
        kind,
    }
}

/// The schema's type other than `null`: `"string"` of `["string", "null"]`.
fn first_type(schema: &Json) -> Option<&str> {
    match schema.get("type")? {
        Json::String(t) => Some(t.as_str()),
        Json::Array(ts) => ts.iter().filter_map(Json::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

fn is_type(schema: &Json, name: &str) -> bool {
    first_type(schema) == Some(name)
}

fn is_only_null(schema: &Json) -> bool {
    schema.get("type").and_then(Json::as_str) == Some("null")
}
