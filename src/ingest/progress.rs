//! Progress: a bar on a terminal, a log line per tenth of the series otherwise, or nothing.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::series::FetchShared;
use crate::api::PoolClient;

pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn start(
        enabled: bool,
        series_total: u64,
        client: &Arc<PoolClient>,
        shared: &Arc<FetchShared>,
    ) -> Progress {
        if !enabled {
            return Progress {
                task: None,
                bar: None,
            };
        }
        let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = on_terminal.then(|| {
            let bar = ProgressBar::new(series_total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} series, {msg} (eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        let client = Arc::clone(client);
        let shared = Arc::clone(shared);
        let task_bar = bar.clone();
        let task = tokio::spawn(async move {
            let mut next_tenth = 1;
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let done = shared.series_done.load(Ordering::Relaxed);
                let tickers = shared.tickers_fetched.load(Ordering::Relaxed);
                let requests = client.requests();
                match &task_bar {
                    Some(bar) => {
                        bar.set_position(done);
                        bar.set_message(format!("{tickers} tickers, {requests} requests"));
                    }
                    None => {
                        while series_total > 0
                            && done * 10 >= next_tenth * series_total
                            && next_tenth <= 10
                        {
                            tracing::info!(
                                "progress: {done}/{series_total} series, {tickers} tickers, {requests} requests"
                            );
                            next_tenth += 1;
                        }
                    }
                }
            }
        });
        Progress {
            task: Some(task),
            bar,
        }
    }

    pub fn finish(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
