//! Runs the directory bot; see the crate docs of `directory`.

fn main() {
    ghostkit::main(directory::INFO, directory::handler())
}
