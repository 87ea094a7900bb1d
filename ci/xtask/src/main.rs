//! `cargo xtask --help`: the project's automation. See `lib.rs` for the map.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use xtask::{book, exercises, project, results, scaffold, sh, structure, suite, tools};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Under Load's automation: build and serve the book, run the tests, regenerate results, check exercises, scaffold labs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install the pinned tools into .tools/ (and Debian packages when root).
    Setup {
        /// Also install the Debian packages the test suite needs (chromium).
        #[arg(long)]
        debian: bool,
        /// Print the Debian packages the test suite needs, space-separated,
        /// and install nothing (CI feeds them to `sudo apt-get install`).
        #[arg(long, conflicts_with = "debian")]
        list_debian: bool,
    },
    /// Build the book (html + link check) and serve it on localhost.
    Serve {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Open it in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// Build the book once into book/html, failing on any warning.
    Book,
    /// Run the whole test suite (what CI runs).
    Test {
        /// Skip a step while iterating locally (repeatable). CI skips nothing.
        #[arg(long, value_name = "STEP")]
        skip: Vec<String>,
        /// Run only this step (repeatable), e.g. `--only scaffold`. CI runs all.
        #[arg(long, value_name = "STEP")]
        only: Vec<String>,
    },
    /// Rerun the labs' measurements and regenerate src/results/.
    Results {
        /// Tiny durations into target/results-quick/ (checks the pipeline).
        #[arg(long)]
        quick: bool,
        /// Only these producers (e.g. lab-01, benches).
        #[arg(long)]
        only: Vec<String>,
        /// Only the producers whose committed results are stale (their
        /// sources changed since they were measured).
        #[arg(long)]
        stale: bool,
    },
    /// Exercises: list, check your answer, or verify all of them.
    Exercise {
        #[command(subcommand)]
        command: ExerciseCommand,
    },
    /// The book's mdBook preprocessor (`book.toml` runs it): `{{#value …}}`
    /// references and stale-result notices.
    #[command(hide = true)]
    Preprocess {
        /// `supports RENDERER` when mdBook asks.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Check that every `{{#value LAB/TABLE:KEY}}` in the book resolves:
    /// against the committed results, or with --quick against a quick run's
    /// (`cargo xtask results --quick --only LAB` first).
    Values {
        #[arg(long)]
        quick: bool,
    },
    /// Check the book's structure (lab cards, chapters, exercises, includes,
    /// module maps, lab boundaries).
    Structure,
    /// Create a new lab crate, its chapter and an exercise skeleton.
    NewLab {
        /// Two-digit lab number, e.g. 02.
        number: String,
        /// Chapter file stem, e.g. concurrency-models.
        slug: String,
        /// Chapter title.
        #[arg(long)]
        title: String,
        /// Part folder under src/, e.g. part-2.
        #[arg(long)]
        part: String,
    },
}

#[derive(Subcommand)]
enum ExerciseCommand {
    /// List the exercises (of one lab, or all).
    List { lab: Option<String> },
    /// Check your answer to one exercise: `cargo xtask exercise check lab-01 shard-index`.
    /// Each failed check shows one more hint (none while the starter is
    /// untouched).
    Check {
        lab: String,
        id: String,
        /// Show the first N hints now, whatever was shown before.
        #[arg(long, value_name = "N")]
        hint: Option<usize>,
    },
    /// Prove that every starter fails and every reference solution passes.
    Verify,
}

fn run(cli: Cli) -> Result<()> {
    let root = project::root();
    match cli.command {
        Command::Setup {
            list_debian: true, ..
        } => {
            println!("{}", tools::debian_packages().join(" "));
            Ok(())
        }
        Command::Setup { debian, .. } => tools::setup(&root, debian),
        Command::Serve { port, open } => {
            sh::step("installing pinned tools (first use only)");
            tools::ensure_pinned(&root, &tools::BOOK_TOOLS)?;
            sh::step("building the book");
            book::build(&root, &root)?;
            sh::step("serving");
            book::serve(&root, port, open)
        }
        Command::Book => {
            tools::ensure_pinned(&root, &tools::BOOK_TOOLS)?;
            book::build(&root, &root).map(|_| ())
        }
        Command::Test { skip, only } => suite::run(&root, &suite::Options { skip, only }),
        Command::Results { quick, only, stale } => results::run(&root, quick, &only, stale),
        Command::Exercise { command } => match command {
            ExerciseCommand::List { lab } => exercises::list(&root, lab.as_deref()),
            ExerciseCommand::Check { lab, id, hint } => exercises::check(&root, &lab, &id, hint),
            ExerciseCommand::Verify => {
                exercises::verify(&root).map(|n| println!("{n} exercises verified"))
            }
        },
        Command::Structure => structure::check(&root),
        Command::Preprocess { args } => xtask::preprocess::main(&args),
        Command::Values { quick } => {
            let dir = if quick {
                root.join("target/results-quick")
            } else {
                root.join("src/results")
            };
            let bad = xtask::preprocess::unresolved(&root, &dir)?;
            if bad.is_empty() {
                println!("every value reference resolves against {}", dir.display());
                Ok(())
            } else {
                anyhow::bail!("unresolved value references:\n  - {}", bad.join("\n  - "))
            }
        }
        Command::NewLab {
            number,
            slug,
            title,
            part,
        } => {
            let lab = scaffold::NewLab {
                number,
                slug,
                title,
                part,
            };
            scaffold::create(&root, &lab)?;
            scaffold::print_next_steps(&lab);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
