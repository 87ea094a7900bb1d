//! `lab-01`: see `lab-01 --help`, and the module map in `lib.rs`.

fn main() -> anyhow::Result<()> {
    lab_01::cli::main_with(Vec::new())
}
