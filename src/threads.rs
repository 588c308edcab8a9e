//! The priority of the CPU-bound work of a process that also answers requests.
//!
//! A run's heavy phases (scores, picks, rendering) and the statistics spread over rayon's
//! global pool, one thread per core, and its loading and storing run on tokio's blocking
//! threads. In `serve`, the requests (a user's picks, a click) share those cores: at equal
//! priority a run takes most of each core from them, and their latency grows a
//! hundredfold. So in `serve` the pool's threads run at a lower priority ([`BATCH_NICE`]),
//! and a run executes on its own runtime ([`batch_runtime`]) whose every thread (workers
//! and blocking threads) runs at that priority too: the requests come first, and the run
//! takes every cycle they leave. The runtime that answers requests keeps the process's
//! priority.

/// How much lower than the process the batch threads of a serving process run: added to
/// the nice value the process started with, 19 at most (Linux: per thread).
pub const BATCH_NICE: i32 = 10;

/// Replaces [`BATCH_NICE`] (0 to 19; 0 keeps the batch at the requests' priority). A
/// property of the process rather than a setting of the data, like `RAYON_NUM_THREADS`.
pub const BATCH_NICE_ENV: &str = "MAILSCORE_BATCH_NICE";

/// The nice value the batch's threads take: [`BATCH_NICE_ENV`] or [`BATCH_NICE`].
pub fn batch_nice() -> Result<i32, String> {
    match std::env::var(BATCH_NICE_ENV) {
        Err(_) => Ok(BATCH_NICE),
        Ok(text) => match text.trim().parse::<i32>() {
            Ok(nice) if (0..=19).contains(&nice) => Ok(nice),
            _ => Err(format!(
                "{BATCH_NICE_ENV}={text:?} is not a nice value from 0 to 19"
            )),
        },
    }
}

/// The nice value [`lower_batch_priority`] chose (0 until it is called).
static CHOSEN_NICE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The runtime the runs of this process execute on: two workers, and blocking threads,
/// all at the nice value [`lower_batch_priority`] chose. Built at first use.
pub fn batch_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        let nice = CHOSEN_NICE.load(std::sync::atomic::Ordering::Relaxed);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("batch-io")
            .on_thread_start(move || {
                if nice != 0
                    && let Err(error) = nice_this_thread(nice)
                {
                    tracing::warn!(%error, "a batch thread keeps the default priority");
                }
            })
            .enable_all()
            .build()
            // Only fails when the system cannot create threads at all.
            .expect("the batch runtime starts")
    })
}

/// Builds rayon's global pool with threads that lower their own priority by
/// `nice` as they start, and chooses that priority for [`batch_runtime`]. Call before
/// anything uses rayon; an error says why the pool keeps its default priority (it was
/// built already).
pub fn lower_batch_priority(nice: i32) -> Result<(), String> {
    CHOSEN_NICE.store(nice, std::sync::atomic::Ordering::Relaxed);
    if nice == 0 {
        return Ok(());
    }
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("batch-{i}"))
        .start_handler(move |_| {
            if let Err(error) = nice_this_thread(nice) {
                tracing::warn!(%error, "a batch thread keeps the default priority");
            }
        })
        .build_global()
        .map_err(|e| e.to_string())
}

/// Lowers the calling thread's priority by `nice` from the one it has, to 19 at most
/// (Linux gives each thread its own): a process started under `nice` keeps its batch
/// below its requests too.
#[cfg(target_os = "linux")]
fn nice_this_thread(nice: i32) -> std::io::Result<()> {
    // SAFETY: gettid has no preconditions; getpriority and setpriority on the calling
    // thread's id read and change only that thread's scheduling priority. getpriority's
    // -1 is also a valid value; errno is not checked, as the id is always valid.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (current + nice).min(19))
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn nice_this_thread(_nice: i32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_lowers_its_own_priority_and_no_other() {
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let lowered = std::thread::spawn(|| {
            super::nice_this_thread(super::BATCH_NICE).unwrap();
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
            unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) }
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (before + super::BATCH_NICE).min(19));
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        assert_eq!(
            unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) },
            before
        );
    }
}
