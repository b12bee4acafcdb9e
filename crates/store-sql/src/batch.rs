//! Group commit of sign-ins: the sign-ins waiting for the writer are written in one
//! transaction, in one round trip to the writer connection.
//!
//! On SQLite every write of the process takes its turn on the one writer connection, and
//! each turn costs two hand-offs between threads (to the connection's thread and back) and
//! a commit that appends every page it changed to the WAL. Under load, sign-ins queue for
//! that turn. Here a sign-in's write joins a queue instead; one task at a time (the
//! *runner*) takes the writers' turn, takes every sign-in queued by then (up to
//! [`MAX_BATCH`]) and runs their statements ([`crate::Sql::finish_authentication_body`],
//! each body's parameters renumbered) between one `BEGIN IMMEDIATE` and one `COMMIT`, in one
//! call. The pages they share (the audit table's and the sessions' last pages, their
//! indexes' right edges) are written once per batch, not once per sign-in.
//!
//! - A sign-in answers only after the `COMMIT` that holds it returned: as durable as alone.
//! - A batch writes all of its sign-ins or none. Any failure in it (a replayed ceremony, a
//!   counter moved by a concurrent sign-in, a deleted key) rolls the whole batch back, and
//!   every sign-in of it answers `false`: its caller then runs the steps on its own, which
//!   either write it (the innocent ones) or name what went wrong (the failing one). A batch of
//!   one is `finish_authentication_at_once`'s statement, as before group commit.
//! - The runner is a task of its own: a caller that stops waiting (its request dropped)
//!   neither cancels nor splits a batch; its sign-in is written or not with the others.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::oneshot;

use crate::backend::Backend;
use crate::conns::Lane;
use crate::exec::Arg;

/// The most sign-ins one transaction takes (SQLite binds at most 32 766 parameters; a
/// sign-in has [`PARAMS`]).
pub const MAX_BATCH: usize = 32;

/// The parameters of one sign-in's statements.
pub const PARAMS: usize = 32;

/// One argument, owned (the caller's borrowed [`Arg`]s cannot wait in a queue).
#[derive(Debug, Clone)]
pub(crate) enum OwnedArg {
    Key(Option<String>),
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Bytes(Option<Vec<u8>>),
}

impl OwnedArg {
    /// `arg`, owned; `None` for the list kinds, which a sign-in does not bind, and for a key
    /// holding a NUL (alone, such a statement is not run and matches nothing; in a batch it
    /// would skip the others' statements: the steps answer it instead).
    pub(crate) fn of(arg: &Arg<'_>) -> Option<Self> {
        Some(match arg {
            Arg::Key(Some(v)) if crate::nul::has_nul(v) => return None,
            Arg::Key(v) => Self::Key(v.map(str::to_owned)),
            Arg::Text(v) => Self::Text(v.map(str::to_owned)),
            Arg::Int(v) => Self::Int(*v),
            Arg::Bool(v) => Self::Bool(*v),
            Arg::Bytes(v) => Self::Bytes(v.map(<[u8]>::to_vec)),
            Arg::Texts(_) | Arg::Blobs(_) => return None,
        })
    }

    fn borrowed(&self) -> Arg<'_> {
        match self {
            Self::Key(v) => Arg::Key(v.as_deref()),
            Self::Text(v) => Arg::Text(v.as_deref()),
            Self::Int(v) => Arg::Int(*v),
            Self::Bool(v) => Arg::Bool(*v),
            Self::Bytes(v) => Arg::Bytes(v.as_deref()),
        }
    }
}

/// One queued sign-in.
struct Job {
    args: Vec<OwnedArg>,
    done: oneshot::Sender<bool>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A runner is on its way: the next job waits for it rather than starting another.
    running: bool,
}

/// The sign-ins waiting for the writer, and the scripts that write them.
pub(crate) struct SignInBatches<B: Backend> {
    queue: Mutex<Queue>,
    writer: Lane<B>,
    body: &'static str,
    /// The script for `n + 1` sign-ins, made on first use.
    scripts: [OnceLock<String>; MAX_BATCH],
}

impl<B: Backend> SignInBatches<B> {
    /// Group commit on `writer`, when the backend has a sign-in body for it.
    pub(crate) fn new(writer: Lane<B>) -> Option<Arc<Self>> {
        let body = B::SQL.finish_authentication_body?;
        Some(Arc::new(Self {
            queue: Mutex::new(Queue::default()),
            writer,
            body,
            scripts: std::array::from_fn(|_| OnceLock::new()),
        }))
    }

    /// Queues one sign-in's arguments (the [`PARAMS`] of `finish_authentication_at_once`)
    /// and waits for its batch: `true` once committed, `false` when the batch wrote nothing
    /// (the caller runs the steps).
    pub(crate) async fn write(self: &Arc<Self>, args: &[Arg<'_>]) -> bool {
        let Some(args) = args.iter().map(OwnedArg::of).collect::<Option<Vec<_>>>() else {
            return false;
        };
        if args.len() != PARAMS {
            return false;
        }
        let (done, answer) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.jobs.push(Job { args, done });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            let batches = Arc::clone(self);
            tokio::spawn(async move { batches.run().await });
        }
        // A runner that died without answering (a panic) dropped the sender: the steps.
        answer.await.unwrap_or(false)
    }

    /// The runner: takes the writers' turn, then every queued sign-in, and writes them;
    /// again until the queue is empty. The queue's `running` is cleared under the same lock
    /// that finds it empty, so a sign-in queued after that starts the next runner.
    async fn run(self: Arc<Self>) {
        let mut guard = Stopped {
            queue: &self.queue,
            armed: true,
        };
        loop {
            let loan = self.writer.acquire().await;
            let jobs = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.jobs.is_empty() {
                    queue.running = false;
                    guard.armed = false;
                    return;
                }
                let take = queue.jobs.len().min(MAX_BATCH);
                queue.jobs.drain(..take).collect::<Vec<_>>()
            };
            let written = match loan {
                Ok(mut conn) => {
                    let args: Vec<Arg<'_>> = jobs
                        .iter()
                        .flat_map(|j| j.args.iter().map(OwnedArg::borrowed))
                        .collect();
                    conn.write_at_once(self.script(jobs.len()), &args).await
                }
                // The turn did not come (the store closed, a write held it too long): the
                // steps say so, each for itself.
                Err(_) => false,
            };
            for job in jobs {
                let _ = job.done.send(written);
            }
        }
    }

    /// `BEGIN IMMEDIATE`, `n` bodies (the `k`th one's `$i` renumbered `$(i + k × PARAMS)`),
    /// `COMMIT`: for one, the text of `finish_authentication_at_once`.
    fn script(&self, n: usize) -> &str {
        self.scripts[n - 1].get_or_init(|| {
            let mut sql = String::from("BEGIN IMMEDIATE;");
            for k in 0..n {
                sql.push_str(&renumber(self.body, k * PARAMS));
            }
            sql.push_str("COMMIT");
            sql
        })
    }
}

/// Clears `running` when a runner ends without doing so itself (a panic), and answers the
/// queued sign-ins `false` (their callers take the steps), so that no sign-in waits for a
/// runner that is gone.
struct Stopped<'a> {
    queue: &'a Mutex<Queue>,
    armed: bool,
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.running = false;
        for job in queue.jobs.drain(..) {
            let _ = job.done.send(false);
        }
    }
}

/// `sql` with every parameter `$i` written `$(i + by)`.
fn renumber(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 64);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        match rest[at + 1..at + 1 + digits].parse::<usize>() {
            Ok(i) => out.push_str(&format!("${}", i + by)),
            Err(_) => out.push('$'),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn a_key_holding_a_nul_is_not_batched() {
        assert!(super::OwnedArg::of(&crate::exec::Arg::Key(Some("a\0b"))).is_none());
        assert!(super::OwnedArg::of(&crate::exec::Arg::Key(Some("ab"))).is_some());
    }

    #[test]
    fn parameters_are_renumbered_and_nothing_else_changes() {
        assert_eq!(
            renumber("INSERT INTO t VALUES ($1, $32); SELECT '$' WHERE x = $10;", 64),
            "INSERT INTO t VALUES ($65, $96); SELECT '$' WHERE x = $74;"
        );
        assert_eq!(renumber("no parameters", 32), "no parameters");
        // A batch of one is the body as written (`finish_authentication_at_once`'s text).
        let body = "INSERT INTO t VALUES ($1, $2); UPDATE t SET a = $32 WHERE b = $10;";
        assert_eq!(renumber(body, 0), body);
    }
}
