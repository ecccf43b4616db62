//! The known name nearest to a misspelt one, for "unknown key" errors.

/// The known name nearest to `name`, when `name` is near enough to be a
/// typo of it; `None` when nothing is.
///
/// Names are compared ignoring ASCII case and with `-` read as `_`, by
/// optimal string alignment distance (insertions, deletions, substitutions
/// and swaps of two neighbours count one each). A name of at most four
/// characters may be one edit away; a longer one two, or a quarter of the
/// shorter name's length if that is more. A name of four characters or
/// more that begins a known name (`flood` for `flood_burst`) is near too.
/// Of several near names the closest wins, then the first in `known`.
///
/// ```
/// use ghostkit::config::nearest;
/// const KEYS: &[&str] = &["dry_run", "management_room", "redact_limit"];
/// assert_eq!(nearest("dry_runn", KEYS), Some("dry_run"));
/// assert_eq!(nearest("Management-Room", KEYS), Some("management_room"));
/// assert_eq!(nearest("redact", KEYS), Some("redact_limit"));
/// assert_eq!(nearest("zzzzzz", KEYS), None);
/// ```
pub fn nearest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let name = normalize(name);
    let name_len = name.chars().count();
    known
        .iter()
        .filter_map(|k| {
            let candidate = normalize(k);
            let distance = strsim::osa_distance(&name, &candidate);
            let shorter = name_len.min(candidate.chars().count());
            let limit = if shorter <= 4 {
                1
            } else {
                (shorter / 4).max(2)
            };
            let begins = name_len >= 4 && candidate.starts_with(&name);
            (distance <= limit || begins).then_some((distance, *k))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// `; did you mean `key`?` for a suggestion, nothing without one: the tail
/// of an "unknown key" message.
///
/// ```
/// assert_eq!(ghostkit::config::did_you_mean(Some("dry_run")), "; did you mean `dry_run`?");
/// assert_eq!(ghostkit::config::did_you_mean(None), "");
/// ```
pub fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests;
