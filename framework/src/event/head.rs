//! Reading an event's routing fields in one quick pass.
//!
//! The transaction was validated as JSON when it was split into items, so
//! this scan does not validate again: it walks the top-level keys of one
//! item, keeps the spans of the string values it routes on, and skips every
//! other value (strings with a fast search for `"` and `\`). Whatever the
//! input, it returns an error rather than panicking.

/// A string value of the head: a span of the item, or its unescaped text
/// when it held escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Field {
    /// Byte offsets of the text between the quotes.
    Span(usize, usize),
    /// The text, unescaped.
    Escaped(Box<str>),
}

/// The routing fields of one item; `None` when absent or `null`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) event_type: Option<Field>,
    pub(super) event_id: Option<Field>,
    pub(super) room_id: Option<Field>,
    pub(super) sender: Option<Field>,
    pub(super) state_key: Option<Field>,
    pub(super) to_user_id: Option<Field>,
}

/// The keys read, in the order of [`Head::slot`].
const FIELDS: [&str; 6] = [
    "type",
    "event_id",
    "room_id",
    "sender",
    "state_key",
    "to_user_id",
];

impl Head {
    /// The field for `FIELDS[i]`.
    fn slot(&mut self, i: usize) -> Option<&mut Option<Field>> {
        Some(match i {
            0 => &mut self.event_type,
            1 => &mut self.event_id,
            2 => &mut self.room_id,
            3 => &mut self.sender,
            4 => &mut self.state_key,
            5 => &mut self.to_user_id,
            _ => return None,
        })
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", byte as char, self.at))
        }
    }

    /// At an opening quote: moves past the closing one; returns the
    /// content's span and whether it holds escapes.
    fn string(&mut self) -> Result<(usize, usize, bool), String> {
        self.expect(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            let rest = self.b.get(self.at..).unwrap_or_default();
            match memchr::memchr2(b'"', b'\\', rest) {
                Some(i) if rest.get(i) == Some(&b'"') => {
                    let end = self.at + i;
                    self.at = end + 1;
                    return Ok((start, end, escaped));
                }
                Some(i) => {
                    escaped = true;
                    self.at += i + 2;
                }
                None => return Err("unterminated string".into()),
            }
        }
    }

    /// Moves past one value of any kind.
    fn skip_value(&mut self) -> Result<(), String> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        Some(b'"') => {
                            self.string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                self.at += 1;
                                return Ok(());
                            }
                        }
                        Some(_) => {}
                        None => return Err("unterminated object or array".into()),
                    }
                    self.at += 1;
                }
            }
            Some(_) => {
                let start = self.at;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.at += 1;
                }
                if self.at == start {
                    return Err(format!("expected a value at byte {start}"));
                }
                Ok(())
            }
            None => Err("expected a value, found the end".into()),
        }
    }

    /// A string value, or `None` for `null`.
    fn field(&mut self, json: &str, key: &str) -> Result<Option<Field>, String> {
        self.skip_ws();
        if self.b.get(self.at..self.at + 4) == Some(b"null") {
            self.at += 4;
            return Ok(None);
        }
        if self.peek() != Some(b'"') {
            return Err(format!("`{key}` is not a string"));
        }
        let quote = self.at;
        let (start, end, escaped) = self.string()?;
        if !escaped {
            return Ok(Some(Field::Span(start, end)));
        }
        let quoted = json
            .get(quote..end + 1)
            .ok_or_else(|| format!("`{key}` is not a string"))?;
        let text: String =
            serde_json::from_str(quoted).map_err(|e| format!("`{key}` is not a string: {e}"))?;
        Ok(Some(Field::Escaped(text.into_boxed_str())))
    }
}

/// Reads the routing fields of a JSON object.
pub(super) fn scan(json: &str) -> Result<Head, String> {
    let mut s = Scanner {
        b: json.as_bytes(),
        at: 0,
    };
    let mut head = Head::default();
    let mut seen = [false; 6];
    s.expect(b'{').map_err(|_| "not a JSON object".to_owned())?;
    s.skip_ws();
    if s.peek() == Some(b'}') {
        return Ok(head);
    }
    loop {
        s.skip_ws();
        let (start, end, escaped) = s.string()?;
        let raw_key = s.b.get(start..end).unwrap_or_default();
        let unescaped;
        let key: &[u8] = if escaped {
            let quoted = json.get(start - 1..end + 1).unwrap_or_default();
            unescaped = serde_json::from_str::<String>(quoted).map_err(|e| e.to_string())?;
            unescaped.as_bytes()
        } else {
            raw_key
        };
        s.expect(b':')?;
        match FIELDS.iter().position(|k| k.as_bytes() == key) {
            Some(i) => {
                let name = FIELDS[i];
                if std::mem::replace(&mut seen[i], true) {
                    return Err(format!("duplicate field `{name}`"));
                }
                let value = s.field(json, name)?;
                if let Some(slot) = head.slot(i) {
                    *slot = value;
                }
            }
            None => s.skip_value()?,
        }
        s.skip_ws();
        match s.peek() {
            Some(b',') => s.at += 1,
            Some(b'}') => return Ok(head),
            _ => return Err(format!("expected `,` or `}}` at byte {}", s.at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(json: &'a str, f: &'a Option<Field>) -> Option<&'a str> {
        match f {
            None => None,
            Some(Field::Span(a, b)) => json.get(*a..*b),
            Some(Field::Escaped(s)) => Some(s),
        }
    }

    #[test]
    fn reads_fields_in_any_order_past_nested_values() {
        let json = r#" { "content": {"body": "a \"}\" b", "n": [1, {"x": "]"}], "t": true},
            "type" : "m.room.message", "unsigned": {"age": 5}, "sender": "@a:x",
            "state_key": null, "room_id": "!r\u0021", "event_id": "$e", "n": -1.5e3 } "#;
        let head = scan(json).expect("scans");
        assert_eq!(text(json, &head.event_type), Some("m.room.message"));
        assert_eq!(text(json, &head.sender), Some("@a:x"));
        assert_eq!(text(json, &head.event_id), Some("$e"));
        assert_eq!(text(json, &head.room_id), Some("!r!"));
        assert_eq!(head.state_key, None);
        assert_eq!(head.to_user_id, None);
    }

    #[test]
    fn refuses_what_serde_refuses() {
        assert!(scan("[1]").is_err());
        assert!(scan(r#"{"type": 5}"#).is_err());
        assert!(scan(r#"{"type": "a", "type": "b"}"#).is_err());
        assert!(scan(r#"{"type": "a""#).is_err());
        assert!(scan(r#"{"a": "unterminated}"#).is_err());
        assert_eq!(scan("{}"), Ok(Head::default()));
    }

    mod property {
        use super::*;
        use proptest::prelude::*;
        use serde_json::{Map, Value};

        const NAMES: [&str; 6] = FIELDS;

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<f64>().prop_map(|f| serde_json::json!(f)),
                any::<i64>().prop_map(|n| serde_json::json!(n)),
                any::<String>().prop_map(Value::String),
                "[\"\\\\{}\\[\\]a-z ]{0,8}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::btree_map("[a-z_\"]{1,6}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// A routing field's value: mostly strings, often with escapes.
        fn field_value() -> impl Strategy<Value = Option<Value>> {
            proptest::option::of(prop_oneof![
                3 => "[\"\\\\a-z!@$:. ]{0,10}".prop_map(Value::String),
                1 => any::<String>().prop_map(Value::String),
                1 => value(),
            ])
        }

        fn object() -> impl Strategy<Value = Map<String, Value>> {
            let others = proptest::collection::btree_map("[a-z_\"\\\\]{1,8}", value(), 0..5);
            let fields = proptest::collection::vec(field_value(), NAMES.len());
            (others, fields).prop_map(|(others, fields)| {
                let mut obj: Map<String, Value> = others.into_iter().collect();
                for (name, v) in NAMES.iter().zip(fields) {
                    if let Some(v) = v {
                        obj.insert((*name).to_owned(), v);
                    }
                }
                obj
            })
        }

        proptest! {
            /// The scan reads what a full JSON parser reads, from compact and
            /// pretty-printed text alike.
            #[test]
            fn agrees_with_serde(obj in object(), pretty in any::<bool>()) {
                let json = if pretty {
                    serde_json::to_string_pretty(&obj).expect("serializes")
                } else {
                    serde_json::to_string(&obj).expect("serializes")
                };
                let wrong_type = NAMES
                    .iter()
                    .any(|n| obj.get(*n).is_some_and(|v| !v.is_string() && !v.is_null()));
                match scan(&json) {
                    Err(e) => prop_assert!(wrong_type, "refused {json}: {e}"),
                    Ok(head) => {
                        prop_assert!(!wrong_type, "accepted {json}");
                        let fields = [
                            &head.event_type,
                            &head.event_id,
                            &head.room_id,
                            &head.sender,
                            &head.state_key,
                            &head.to_user_id,
                        ];
                        for (name, field) in NAMES.iter().zip(fields) {
                            prop_assert_eq!(
                                text(&json, field),
                                obj.get(*name).and_then(Value::as_str),
                                "field {} of {}", name, json
                            );
                        }
                    }
                }
            }

            /// Any text at all: an answer, never a panic.
            #[test]
            fn never_panics(text in any::<String>()) {
                let _ = scan(&text);
            }
        }
    }
}
