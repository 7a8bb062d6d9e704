//! What the benchmark harnesses share.
#![allow(dead_code)] // each harness uses its own part

/// xorshift64: a small deterministic generator, so every run builds and times the same data.
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What a child process used, from `wait4`: its own rusage, not the sum over all children.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChildUsage {
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// Linux reports kilobytes.
    pub max_rss_kib: i64,
    /// The exit status, or minus the signal that ended it.
    pub exit_code: i32,
    /// The raw wait status.
    pub status: i32,
}

/// Reaps the child `pid` (retrying on EINTR) with its rusage.
pub fn wait4_child(pid: i32) -> anyhow::Result<ChildUsage> {
    let mut status = 0;
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our unreaped child; the pointers are valid for the call.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if got == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            anyhow::bail!("wait4({pid}): {error}");
        }
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Ok(ChildUsage {
        cpu_user_s: seconds(rusage.ru_utime),
        cpu_sys_s: seconds(rusage.ru_stime),
        max_rss_kib: rusage.ru_maxrss,
        exit_code,
        status,
    })
}
