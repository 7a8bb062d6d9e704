use clap::Parser;

use poolhist::cli::{Cli, Command};
use poolhist::commands;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(&cli.command, Command::Ingest(args) if args.quiet);
    poolhist::logging::init(quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Ingest(args) => commands::ingest_command(&args, cli.db).await,
            Command::Simulate(args) => poolhist::simulate::run(args).await,
            Command::Demo(args) => poolhist::demo::demo_command(&args, cli.db).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", poolhist::logging::scrub(&format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}
