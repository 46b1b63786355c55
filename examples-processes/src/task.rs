//! The registered task kinds: what may cross the process boundary.
//!
//! Python pickles a reference to a function (`module.name`) and its arguments, and the worker
//! looks the function up again; a function defined in a notebook or a lambda cannot be found
//! that way (Concurrency and parallelism (concurrent.futures), seed 002, "Gotchas"). Here a task is data: a variant of [`Task`] naming one of the
//! kinds compiled into the binary, with its arguments as fields. The worker matches on it and
//! runs the same code the parent would. No lookup can fail at run time, and anything else
//! (a closure, a file handle) is refused by the compiler, not by the worker.

use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::executor::{FutureError, panic_message};
use shared::workloads::{compute_x, scrypt};

/// A task a worker (process or thread) can run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Task {
    /// Seed 000's `compute_x(x, y)`: sleeps 0.8 tutorial seconds, returns `(x, y)`.
    /// `seconds` is how long a tutorial second lasts in this run.
    ComputeX {
        /// `x`.
        x: u64,
        /// `y` (2 by default, 3 where the tutorial uses `functools.partial(y=3)`).
        y: u64,
        /// Length of a tutorial second.
        seconds: f64,
    },
    /// Seed 002's `hashlib.scrypt(password, salt=b"salt", n, r, p)`.
    Scrypt {
        /// The password.
        password: String,
        /// Cost parameters.
        params: scrypt::Params,
    },
    /// Sleeps (a stand-in for a job that waits).
    Sleep {
        /// Seconds.
        secs: f64,
    },
    /// Seed 003's `download_image(url)`: a blocking HTTP GET of the whole body.
    Download {
        /// The URL.
        url: String,
    },
    /// A task too small to be worth sending anywhere: returns `x + 1`.
    Tiny(u64),
    /// Panics with this message (gotchas: the task "raises").
    Panic {
        /// The panic message.
        message: String,
    },
    /// Aborts its whole process (gotchas: a crash that takes the worker down).
    Abort,
    /// Several tasks run one after the other as one unit: what `map(chunksize=...)` sends, so
    /// that a chunk crosses to a worker process as one message and comes back as one
    /// (CPython's `ProcessPoolExecutor.map` wraps its chunks the same way).
    Chunk(Vec<Task>),
}

/// What a task returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    /// `compute_x`'s `(x, y)`.
    Pair(u64, u64),
    /// A scrypt digest.
    Digest(Vec<u8>),
    /// A sleep finished.
    Slept,
    /// A downloaded body (seed 003's `requests.get(url).content`). From a worker process it
    /// comes back through the pipe: the copy is part of what processes cost.
    Body(Vec<u8>),
    /// [`Task::Tiny`]'s result.
    Tiny(u64),
    /// [`Task::Chunk`]'s results, one per task, in order.
    Chunk(Vec<Result<Output, TaskError>>),
}

/// Why a task produced no output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskError {
    /// It panicked (Python: it raised); the worker caught the panic and lives on.
    Panicked(String),
    /// It returned an error (a refused connection, an HTTP error status).
    Failed(String),
}

impl TaskError {
    /// The error its future reports; `whose` names the task and who ran it, e.g.
    /// `task 3 (panic()) on worker 1 (pid 4242)`.
    pub fn into_future_error(self, whose: &str) -> FutureError {
        match self {
            TaskError::Panicked(msg) => FutureError::Panicked(format!("{whose}: {msg}")),
            TaskError::Failed(msg) => FutureError::Failed(format!("{whose}: {msg}")),
        }
    }
}

impl Task {
    /// A short name of the task for error messages, e.g. `scrypt("password 3")`.
    pub fn describe(&self) -> String {
        match self {
            Task::ComputeX { x, y, .. } => format!("compute_x({x}, y={y})"),
            Task::Scrypt { password, .. } => format!("scrypt({password:?})"),
            Task::Sleep { secs } => format!("sleep({secs:.3} s)"),
            Task::Download { url } => format!("download_image({url})"),
            Task::Tiny(x) => format!("tiny({x})"),
            Task::Panic { .. } => "panic()".to_owned(),
            Task::Abort => "abort()".to_owned(),
            Task::Chunk(tasks) => match tasks.first() {
                Some(first) => format!("a chunk of {} from {}", tasks.len(), first.describe()),
                None => "an empty chunk".to_owned(),
            },
        }
    }

    /// Runs the task here, in this thread.
    pub fn run(&self) -> Result<Output, String> {
        match self {
            Task::ComputeX { x, y, seconds } => {
                let (x, y) = compute_x::compute_x(*x, *y, *seconds);
                Ok(Output::Pair(x, y))
            }
            Task::Scrypt { password, params } => {
                Ok(Output::Digest(scrypt::digest(password.as_bytes(), params)))
            }
            Task::Sleep { secs } => {
                std::thread::sleep(Duration::from_secs_f64(secs.max(0.0)));
                Ok(Output::Slept)
            }
            Task::Download { url } => download(url),
            Task::Tiny(x) => Ok(Output::Tiny(x.wrapping_add(1))),
            Task::Panic { message } => panic!("{message}"),
            Task::Abort => std::process::abort(),
            Task::Chunk(tasks) => Ok(Output::Chunk(tasks.iter().map(Task::run_caught).collect())),
        }
    }

    /// Runs the task, turning a panic into [`TaskError::Panicked`].
    pub fn run_caught(&self) -> Result<Output, TaskError> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run())) {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(msg)) => Err(TaskError::Failed(msg)),
            Err(payload) => Err(TaskError::Panicked(panic_message(payload.as_ref()))),
        }
    }
}

/// One blocking HTTP client per process: it keeps connections alive between a worker's
/// downloads, as `requests` does within one Python process.
fn client() -> Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::blocking::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            shared::server::blocking_client(Duration::from_secs(30)).map_err(|e| format!("{e:#}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn download(url: &str) -> Result<Output, String> {
    let response = client()?
        .get(url)
        .send()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let body = response
        .bytes()
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
    Ok(Output::Body(body.to_vec()))
}

#[cfg(test)]
mod tests {
    use shared::message::{decode, encode};

    use super::*;

    #[test]
    fn tasks_run_and_round_trip_through_the_wire() {
        let tasks = vec![
            Task::ComputeX {
                x: 3,
                y: 2,
                seconds: 0.0,
            },
            Task::Tiny(41),
            Task::Sleep { secs: 0.0 },
        ];
        let bytes = encode(&tasks).unwrap();
        let back: Vec<Task> = decode(&bytes).unwrap();
        assert_eq!(back, tasks);
        let outs: Vec<Output> = back.iter().map(|t| t.run().unwrap()).collect();
        assert_eq!(outs, [Output::Pair(3, 2), Output::Tiny(42), Output::Slept]);
        // A tiny task is a handful of bytes on the wire.
        assert!(encode(&Task::Tiny(1000)).unwrap().len() <= 4);
    }

    #[test]
    fn a_panic_is_caught_as_an_error_with_its_message() {
        let out = Task::Panic {
            message: "boom 7".into(),
        }
        .run_caught();
        assert_eq!(out, Err(TaskError::Panicked("boom 7".into())));
    }

    #[test]
    fn a_refused_download_is_a_failure_not_a_panic() {
        let url = shared::server::unreachable_url().unwrap();
        let out = Task::Download { url }.run_caught();
        assert!(matches!(out, Err(TaskError::Failed(_))), "{out:?}");
    }

    #[test]
    fn scrypt_quick_digest_is_deterministic() {
        let t = Task::Scrypt {
            password: "password 0".into(),
            params: scrypt::Params::QUICK,
        };
        assert_eq!(t.run().unwrap(), t.run().unwrap());
        assert_eq!(t.describe(), "scrypt(\"password 0\")");
    }

    #[test]
    fn a_chunk_runs_every_task_and_keeps_each_outcome() {
        let chunk = Task::Chunk(vec![
            Task::Tiny(1),
            Task::Panic {
                message: "no".into(),
            },
            Task::Tiny(3),
        ]);
        assert_eq!(chunk.describe(), "a chunk of 3 from tiny(1)");
        assert_eq!(
            chunk.run(),
            Ok(Output::Chunk(vec![
                Ok(Output::Tiny(2)),
                Err(TaskError::Panicked("no".into())),
                Ok(Output::Tiny(4)),
            ]))
        );
    }

    #[test]
    fn task_errors_become_the_matching_future_errors() {
        let e = TaskError::Failed("HTTP 404".into()).into_future_error("task 2 (x)");
        assert_eq!(e, FutureError::Failed("task 2 (x): HTTP 404".into()));
        let e = TaskError::Panicked("boom".into()).into_future_error("task 3 (y)");
        assert_eq!(e, FutureError::Panicked("task 3 (y): boom".into()));
    }
}
