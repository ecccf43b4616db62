//! Derive macros for ghostkit. Use them through the re-exports in `ghostkit`
//! (`ghostkit::Command`), where every attribute is documented.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod attr;
mod command;

/// Parses `!command args` into an enum; see `ghostkit::Command`.
#[proc_macro_derive(Command, attributes(command))]
pub fn derive_command(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match command::expand(&input) {
        Ok(out) => out.into(),
        Err(e) => {
            let mut out = e.into_compile_error();
            out.extend(command::dummy(&input));
            out.into()
        }
    }
}
