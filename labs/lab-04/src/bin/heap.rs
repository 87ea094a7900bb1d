//! `cargo run -p lab-04 --release --bin heap -- [--requests N] [--out DIR]`
//!
//! Counts lab-02's heap allocations per request with dhat's allocator
//! installed (which is why this is a binary of its own: the allocator
//! wraps every allocation of the process, and the profiler's main binary
//! must not pay for it). Prints one JSON row per case, for the results
//! pipeline, and writes `dhat-heap.json` into `--out` for DHAT's viewer.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use lab_02::config::Model;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[derive(Parser)]
struct Args {
    /// Requests per case.
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Where dhat-heap.json goes.
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let _profiler = dhat::Profiler::builder()
        .file_name(args.out.join("dhat-heap.json"))
        .build();
    let stats = || {
        let s = dhat::HeapStats::get();
        (s.total_blocks, s.total_bytes)
    };
    for model in [Model::EventLoop, Model::TaskPerConnection] {
        for before in [true, false] {
            for row in lab_04::heap::count(model, before, args.requests, &stats)? {
                println!("{}", serde_json::to_string(&row)?);
            }
        }
    }
    Ok(())
}
