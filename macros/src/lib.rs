//! Derive macros for ghostkit. Use them through the re-exports in `ghostkit`.
