//! Progress: a bar on a terminal, a log line per tenth of the series otherwise, or nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::series::FetchShared;
use crate::http::ClientCounters;

pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
    /// Series to fetch, once the directories are listed (0 until then).
    series_total: Arc<AtomicU64>,
}

impl Progress {
    pub fn start(
        enabled: bool,
        counters: &Arc<ClientCounters>,
        shared: &Arc<FetchShared>,
    ) -> Progress {
        let series_total = Arc::new(AtomicU64::new(0));
        if !enabled {
            return Progress {
                task: None,
                bar: None,
                series_total,
            };
        }
        let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = on_terminal.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} series, {msg} (eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        let counters = Arc::clone(counters);
        let shared = Arc::clone(shared);
        let total = Arc::clone(&series_total);
        let task_bar = bar.clone();
        let task = tokio::spawn(async move {
            let mut next_tenth = 1;
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let done = shared.series_done.load(Ordering::Relaxed);
                let tickers = shared.tickers_fetched.load(Ordering::Relaxed);
                let requests = counters.requests();
                let series_total = total.load(Ordering::Relaxed);
                match &task_bar {
                    Some(bar) => {
                        bar.set_length(series_total);
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
            series_total,
        }
    }

    pub fn set_series(&self, total: u64) {
        self.series_total.store(total, Ordering::Relaxed);
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
