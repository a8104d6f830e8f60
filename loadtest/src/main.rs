//! `loadtest`: parse the options, run, print, and exit with a status a
//! script can trust: 0 when every backend that must be safe was safe, 1 when
//! one was not, 2 when the run itself failed (a target unreachable, …).

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use loadtest::cli::{BenchArgs, Cli, Command, RunArgs};
use loadtest::i18n::Lang;
use loadtest::{raw, report};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args).await,
        Command::Bench(args) => bench(&args).await,
        Command::Raw(args) => match raw::run(&args).await {
            None => Err(anyhow::anyhow!("--url must be a plain http://host:port/path URL")),
            Some(result) => {
                if args.json {
                    println!("{}", serde_json::to_string(&result).expect("serialisable"));
                } else {
                    println!(
                        "{:.0} requests/s ({} ok, {} errors, {} connections, {:.1} s)",
                        result.requests_per_s, result.ok, result.errors, result.connections, result.elapsed_s
                    );
                }
                Ok(true)
            }
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("loadtest: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A benchmark: whatever its targets, it fails only when it cannot run or
/// its figures are not of working locks (see `BenchReport::passed`).
async fn bench(args: &BenchArgs) -> anyhow::Result<bool> {
    let bench = loadtest::bench::run(args)
        .await
        .context("the benchmark could not run")?;
    print!("{}", loadtest::bench::render(&bench));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&bench)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(bench.passed)
}

/// Returns whether the run passed.
async fn run(args: &RunArgs) -> anyhow::Result<bool> {
    let (report, events) = loadtest::run_with_events(args)
        .await
        .context("the load test could not run")?;
    let lang = args.lang.unwrap_or_else(Lang::from_env);
    print!("{}", report::render_table(&report, args.wide, lang));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.chart {
        let page = loadtest::dashboard::page::replay(&events.history());
        std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if args.dashboard.is_some() {
        // The last events (the final verdict, "done") reach the page before
        // the server goes away with the process.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    Ok(report.passed)
}
