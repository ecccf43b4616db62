//! `m.room.server_acl` built from the server rules in force.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#server-access-control-lists-acls-for-rooms>.
//! `allow` is always `["*"]`; `deny` holds every server rule's entity except
//! those that would deny our own server; IP literals are denied.

use serde_json::{json, Value};

use crate::glob::Glob;

/// The ACL content for `server_rules`, never denying `own_server`. The
/// `deny` list is sorted and deduplicated so equal rule sets give equal
/// content (the ACL is written only when it changes).
///
/// ```
/// let acl = modbot::acl::build_acl(["evil.org", "*.bad.net", "*"], "good.org");
/// assert_eq!(acl["deny"], serde_json::json!(["*.bad.net", "evil.org"]));
/// assert_eq!(acl["allow"], serde_json::json!(["*"]));
/// ```
pub fn build_acl<'a>(server_rules: impl IntoIterator<Item = &'a str>, own_server: &str) -> Value {
    let mut deny: Vec<&str> = server_rules
        .into_iter()
        .filter(|e| !e.is_empty() && !Glob::new(e).matches(own_server))
        .collect();
    deny.sort_unstable();
    deny.dedup();
    json!({
        "allow": ["*"],
        "deny": deny,
        "allow_ip_literals": false,
    })
}

/// Whether two ACL contents are the same for enforcement purposes (same
/// allow, deny and IP-literal flag, whatever their order).
pub fn same_acl(a: &Value, b: &Value) -> bool {
    let list = |v: &Value, k: &str| {
        let mut l: Vec<String> = v[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        l.sort();
        l
    };
    list(a, "allow") == list(b, "allow")
        && list(a, "deny") == list(b, "deny")
        && a["allow_ip_literals"].as_bool().unwrap_or(true)
            == b["allow_ip_literals"].as_bool().unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_denies_our_own_server() {
        let acl = build_acl(["good.org", "*.org", "g??d.org", "evil.com"], "good.org");
        assert_eq!(acl["deny"], json!(["evil.com"]));
    }

    #[test]
    fn empty_rules_allow_everyone() {
        let acl = build_acl([], "good.org");
        assert_eq!(acl["deny"], json!([]));
        assert_eq!(acl["allow"], json!(["*"]));
        assert_eq!(acl["allow_ip_literals"], json!(false));
    }

    #[test]
    fn duplicates_and_order_do_not_matter() {
        let a = build_acl(["b.org", "a.org", "b.org"], "x.org");
        let b = build_acl(["a.org", "b.org"], "x.org");
        assert_eq!(a, b);
        assert!(same_acl(&a, &b));
        assert!(!same_acl(&a, &build_acl(["a.org"], "x.org")));
    }
}
