//! Runs the dice bot; see the crate docs of `dice`.

fn main() {
    ghostkit::main(dice::INFO, dice::handler())
}
