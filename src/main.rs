use clap::Parser;

use poolhist::cli::{Cli, Command};
use poolhist::commands;
use poolhist::report;
use poolhist::store::maintenance::{self, DbCommand};

fn db_or_default(db: Option<std::path::PathBuf>) -> std::path::PathBuf {
    db.unwrap_or_else(|| commands::DEFAULT_DB.into())
}

fn main() -> std::process::ExitCode {
    let process_args: Vec<String> = std::env::args().collect();
    if let Some(foundry) = poolhist::cli::FoundrySimulateCli::wanted(&process_args) {
        let foundry = poolhist::cli::FoundrySimulateCli::parse_from(foundry);
        return run(async { poolhist::pools::foundry::sim::run(foundry.args).await });
    }
    let cli = Cli::parse();
    let quiet = match &cli.command {
        Command::Ingest(args) => args.quiet,
        Command::Db(DbCommand::Vacuum(args)) => args.quiet,
        _ => false,
    };
    poolhist::logging::init(quiet);
    run(async {
        match cli.command {
            Command::Ingest(args) => commands::ingest_command(&args, cli.db).await,
            Command::Simulate(args) => poolhist::pools::cloverpool::sim::run(args).await,
            Command::Demo(args) => poolhist::demo::demo_command(&args, cli.db).await,
            Command::Report(cmd) => report::run_report(&db_or_default(cli.db), &cmd),
            Command::Sql(args) => report::run_sql(&db_or_default(cli.db), &args),
            Command::Status(args) => report::run_status(&db_or_default(cli.db), &args),
            Command::Gaps(args) => report::run_gaps(&db_or_default(cli.db), &args),
            Command::Alerts(args) => poolhist::watch::run_alerts(cli.db, &args).await,
            Command::Metrics(args) => {
                poolhist::watch::metrics::run_metrics(&db_or_default(cli.db), &args)
            }
            Command::Db(cmd) => maintenance::run(&db_or_default(cli.db), &cmd),
            Command::Export(cmd) => poolhist::export::run(&db_or_default(cli.db), &cmd),
        }
    })
}

/// Runs a command on the async runtime; errors print as one line and set the exit code.
fn run(command: impl std::future::Future<Output = anyhow::Result<()>>) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let e = anyhow::Error::new(e).context("cannot start the async runtime");
            poolhist::logging::print_error(&e);
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(command);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.is::<poolhist::watch::AlertsFiring>() => {
            // Said already, in the summary line.
            std::process::ExitCode::from(poolhist::watch::AlertsFiring::EXIT_CODE)
        }
        Err(e) => {
            poolhist::logging::print_error(&e);
            match e.downcast_ref::<poolhist::ingest::Interrupted>() {
                Some(interrupted) => std::process::ExitCode::from(interrupted.exit_code()),
                None => std::process::ExitCode::FAILURE,
            }
        }
    }
}
