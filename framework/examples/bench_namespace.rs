//! How much a namespace check costs: the `regex` crate (the usual path)
//! against `fancy-regex` (the fallback for look-around), on the same
//! start-anchored patterns Ghostkit compiles, and through
//! [`Registration::is_user_in_namespace`].
//!
//! ```text
//! cargo run --release -p ghostkit --example bench_namespace [ITERATIONS]
//! ```
//! Prints nanoseconds per check for a matching and a non-matching ID.

use std::hint::black_box;
use std::time::Instant;

use ghostkit::Registration;

const TYPICAL: &str = r"@irc_.*:example\.org";
const LOOKAHEAD: &str = r"@(?!irc_admin)irc_.*:example\.org";
const HIT: &str = "@irc_libera_alice:example.org";
const MISS: &str = "@alice:example.org";

/// Nanoseconds per call of `f` over `n` calls.
fn per_call(n: u32, mut f: impl FnMut() -> bool) -> f64 {
    // Warm up caches (the lazy DFA builds its states on first use).
    for _ in 0..1000 {
        black_box(f());
    }
    let start = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn registration(regex: &str) -> Result<Registration, ghostkit::RegistrationError> {
    Registration::from_yaml(&format!(
        "id: bench\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: bench\n\
         namespaces:\n  users:\n    - {{regex: '{regex}', exclusive: true}}\n"
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 2_000_000,
    };
    let anchored = |p: &str| format!("^(?:{p})");
    let fast = regex::Regex::new(&anchored(TYPICAL))?;
    let fancy_typical = fancy_regex::Regex::new(&anchored(TYPICAL))?;
    let fancy_lookahead = fancy_regex::Regex::new(&anchored(LOOKAHEAD))?;
    let reg_typical = registration(TYPICAL)?;
    let reg_lookahead = registration(LOOKAHEAD)?;

    println!("{n} checks each; ns per check (match / no match)");
    let row = |name: &str, hit: f64, miss: f64| println!("{name:<44} {hit:>7.1} {miss:>7.1}");
    row(
        "regex, typical `@irc_.*:example\\.org`",
        per_call(n, || fast.is_match(black_box(HIT))),
        per_call(n, || fast.is_match(black_box(MISS))),
    );
    row(
        "fancy-regex, same typical pattern",
        per_call(n, || {
            fancy_typical.is_match(black_box(HIT)).unwrap_or(false)
        }),
        per_call(n, || {
            fancy_typical.is_match(black_box(MISS)).unwrap_or(false)
        }),
    );
    row(
        "fancy-regex, look-ahead `@(?!irc_admin)irc_…`",
        per_call(n, || {
            fancy_lookahead.is_match(black_box(HIT)).unwrap_or(false)
        }),
        per_call(n, || {
            fancy_lookahead.is_match(black_box(MISS)).unwrap_or(false)
        }),
    );
    row(
        "Registration, typical (regex path)",
        per_call(n, || reg_typical.is_user_in_namespace(black_box(HIT))),
        per_call(n, || reg_typical.is_user_in_namespace(black_box(MISS))),
    );
    row(
        "Registration, look-ahead (fancy-regex path)",
        per_call(n, || reg_lookahead.is_user_in_namespace(black_box(HIT))),
        per_call(n, || reg_lookahead.is_user_in_namespace(black_box(MISS))),
    );
    Ok(())
}
