#[derive(ghostkit::Command)]
struct Roll {
    dice: String,
}

fn main() {}
