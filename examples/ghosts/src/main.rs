//! Runs the ghosts bot; see the crate docs of `ghosts`.

fn main() {
    ghostkit::main(ghosts::INFO, ghosts::handler())
}
