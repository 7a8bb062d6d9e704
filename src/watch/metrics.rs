//! (being written)
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsArgs {
    #[arg(long)]
    pub textfile: Option<std::path::PathBuf>,
}
pub fn run_metrics(_db: &std::path::Path, _a: &MetricsArgs) -> anyhow::Result<()> {
    anyhow::bail!("stub")
}
pub fn write_textfile(
    _c: &rusqlite::Connection,
    _p: &std::path::Path,
    _now: i64,
) -> anyhow::Result<()> {
    anyhow::bail!("stub")
}
