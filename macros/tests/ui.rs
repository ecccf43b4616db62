//! Compile-fail and compile-pass tests of the derives (trybuild).
//! Regenerate the expected errors with `TRYBUILD=overwrite`, then review them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
