//! Group commit for directory-state writes.
//!
//! Every `apply_changes` call becomes a job on a queue. One task per store
//! takes whatever jobs are waiting (up to [`MAX_JOBS`]), opens one
//! transaction, reads each directory once, runs the jobs, appends the
//! events of the jobs that succeeded with multi-row inserts in job order,
//! commits once, and only then answers every job.
//!
//! Jobs first run without savepoints (most batches have no failing job,
//! and a savepoint costs two statements per job). If one fails, that
//! transaction is rolled back and the batch runs again with a savepoint
//! per job: the failing job rolls back to its savepoint and reports its
//! error; the others are unaffected. Under load, hundreds of
//! SCIM writes share one fsync; alone, a job commits immediately.
//!
//! Invariant: a job's caller gets `Ok` only after the commit that made its
//! changes and events durable succeeded.

use std::collections::HashMap;

use rollcall_core::directory::Directory;
use rollcall_core::event::NewEvent;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::backend::{Backend, BackendKind, Store, Tx};
use crate::direct::DirectTx;
use crate::directory_state::{Change, Outcome, apply_in_tx, writable_directory};
use crate::error::StoreError;
use crate::events;

/// Most jobs committed together.
const MAX_JOBS: usize = 256;
/// Jobs waiting before callers are pushed back.
const QUEUE: usize = 4096;

struct Job {
    directory_id: String,
    changes: Vec<Change>,
    reply: oneshot::Sender<Result<Vec<Outcome>, StoreError>>,
}

/// The queue side held by every clone of a [`Store`].
pub(crate) struct Batcher {
    sender: mpsc::Sender<Job>,
    receiver: Mutex<Option<mpsc::Receiver<Job>>>,
    started: std::sync::OnceLock<()>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Batcher")
    }
}

impl Batcher {
    pub(crate) fn new() -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Batcher {
            sender,
            receiver: Mutex::new(Some(receiver)),
            started: std::sync::OnceLock::new(),
        }
    }

    /// Queues a job and waits for its committed result.
    pub(crate) async fn submit(
        &self,
        store: &Store,
        directory_id: &str,
        changes: Vec<Change>,
    ) -> Result<Vec<Outcome>, StoreError> {
        if self.started.get().is_none() {
            let mut receiver = self.receiver.lock().await;
            if let Some(rx) = receiver.take() {
                start(store, rx);
                let _ = self.started.set(());
            }
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            directory_id: directory_id.to_owned(),
            changes,
            reply,
        };
        self.sender
            .send(job)
            .await
            .map_err(|_| StoreError::Internal("the write queue is closed".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Internal("the writer stopped before answering".into()))?
    }
}

/// Starts the writer loop. It holds a copy of the store without this
/// queue, so it ends once every [`Store`] clone (every sender) is gone.
///
/// On SQLite the loop gets an OS thread and a runtime of its own, and runs
/// each batch through SQLite's C API on sqlx's locked writer handle
/// ([`crate::direct`]): no statement waits for another thread, and a
/// wake-up from outside never queues behind busy HTTP tasks.
fn start(store: &Store, rx: mpsc::Receiver<Job>) {
    let writer = Store {
        batcher: std::sync::Arc::new(Batcher::new()),
        ..store.clone()
    };
    if store.kind() == BackendKind::Sqlite {
        let spawned = std::thread::Builder::new()
            .name("rollcall-writer".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(run_direct(writer, rx)),
                    Err(e) => tracing::error!(error = %e, "cannot start the SQLite writer"),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the SQLite writer thread");
        }
    } else {
        tokio::spawn(run_pooled(writer, rx));
    }
}

/// The next batch: `first` and whatever else is already waiting.
fn take_batch(first: Job, rx: &mut mpsc::Receiver<Job>) -> (Vec<Work>, Vec<Reply>) {
    let mut work = vec![(first.directory_id, first.changes)];
    let mut replies = vec![first.reply];
    while work.len() < MAX_JOBS {
        match rx.try_recv() {
            Ok(job) => {
                work.push((job.directory_id, job.changes));
                replies.push(job.reply);
            }
            Err(_) => break,
        }
    }
    (work, replies)
}

/// PostgreSQL: each attempt is a pooled sqlx transaction.
async fn run_pooled(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let (work, replies) = take_batch(first, &mut rx);
        let mut attempt = match store.begin().await {
            Ok(tx) => run_batch(tx, &work, Mode::Optimistic).await,
            Err(e) => Attempt::Failed(e.to_string()),
        };
        if matches!(attempt, Attempt::JobFailed) {
            attempt = match store.begin().await {
                Ok(tx) => run_batch(tx, &work, Mode::Savepoints).await,
                Err(e) => Attempt::Failed(e.to_string()),
            };
        }
        answer(replies, attempt);
    }
}

/// SQLite: each batch borrows sqlx's one writer connection, locks its
/// handle, and runs its attempts directly on it. Other writers (token and
/// directory changes, the request log) wait for the pool as before, so
/// writes stay serialized in-process.
async fn run_direct(store: Store, mut rx: mpsc::Receiver<Job>) {
    let Backend::Sqlite { write, .. } = &store.backend else {
        return;
    };
    while let Some(first) = rx.recv().await {
        let (work, replies) = take_batch(first, &mut rx);
        let attempt = match write.acquire().await {
            Ok(mut conn) => match conn.lock_handle().await {
                Ok(mut handle) => {
                    let raw = handle.as_raw_handle().as_ptr();
                    // SAFETY (both begins): `handle` keeps sqlx's worker off
                    // this connection until it drops, after every attempt's
                    // transaction; sqlx left it outside a transaction and
                    // each attempt ends its own (commit or rollback on drop).
                    let mut attempt = match unsafe { DirectTx::begin(raw.cast()) } {
                        Ok(tx) => run_batch(Tx::Direct(tx), &work, Mode::Optimistic).await,
                        Err(e) => Attempt::Failed(e.to_string()),
                    };
                    if matches!(attempt, Attempt::JobFailed) {
                        attempt = match unsafe { DirectTx::begin(raw.cast()) } {
                            Ok(tx) => run_batch(Tx::Direct(tx), &work, Mode::Savepoints).await,
                            Err(e) => Attempt::Failed(e.to_string()),
                        };
                    }
                    attempt
                }
                Err(e) => Attempt::Failed(e.to_string()),
            },
            Err(e) => Attempt::Failed(e.to_string()),
        };
        answer(replies, attempt);
    }
}

type Work = (String, Vec<Change>);
type Reply = oneshot::Sender<Result<Vec<Outcome>, StoreError>>;

async fn savepoint(tx: &mut Tx, statement: &'static str) -> Result<(), StoreError> {
    tx.execute(statement, Vec::new()).await?;
    Ok(())
}

/// How a batch runs its jobs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No savepoints: two statements fewer per job. If any job fails, the
    /// whole transaction is rolled back and the batch runs again in
    /// [`Mode::Savepoints`].
    Optimistic,
    /// Each job in its own savepoint; a failing job is rolled back alone.
    Savepoints,
}

enum Attempt {
    /// Finished; one result per job (committed, unless the only job failed).
    Done(Vec<Result<Vec<Outcome>, StoreError>>),
    /// An optimistic run met a failing job; nothing was written.
    JobFailed,
    /// The transaction itself failed; every job gets this error.
    Failed(String),
}

fn answer(replies: Vec<Reply>, attempt: Attempt) {
    match attempt {
        Attempt::Done(results) => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Attempt::Failed(message) => {
            tracing::error!(error = %message, "group commit failed");
            for reply in replies {
                let _ = reply.send(Err(StoreError::Internal(format!(
                    "commit failed: {message}"
                ))));
            }
        }
        // Savepoint runs answer every job; this is never reached.
        Attempt::JobFailed => {
            for reply in replies {
                let _ = reply.send(Err(StoreError::Internal("the batch was not run".into())));
            }
        }
    }
}

/// One run of the batch in the transaction `tx` (committed here, or
/// rolled back when dropped).
async fn run_batch(mut tx: Tx, work: &[Work], mode: Mode) -> Attempt {
    let mut directories: HashMap<&str, Result<Directory, StoreError>> = HashMap::new();
    let mut events = Vec::new();
    let mut results = Vec::with_capacity(work.len());
    for (directory_id, changes) in work {
        if !directories.contains_key(directory_id.as_str()) {
            let found = writable_directory(&mut tx, directory_id).await;
            directories.insert(directory_id, found);
        }
        let result = match &directories[directory_id.as_str()] {
            Ok(directory) => match mode {
                Mode::Optimistic => apply_in_tx(&mut tx, directory, changes.clone()).await,
                Mode::Savepoints => run_job(&mut tx, directory, changes.clone()).await,
            },
            Err(StoreError::NotFound(what)) => Err(StoreError::NotFound(what)),
            Err(e) => Err(StoreError::Internal(e.to_string())),
        };
        match result {
            Ok((outcomes, job_events)) => {
                events.extend(job_events);
                results.push(Ok(outcomes));
            }
            // Dropping the transaction rolls it back; a lone job needs no rerun.
            Err(e) if mode == Mode::Optimistic && work.len() == 1 => {
                return Attempt::Done(vec![Err(e)]);
            }
            Err(_) if mode == Mode::Optimistic => return Attempt::JobFailed,
            Err(e) => results.push(Err(e)),
        }
    }
    if let Err(e) = events::append_many(&mut tx, events).await {
        return Attempt::Failed(e.to_string());
    }
    match tx.commit().await {
        Ok(()) => Attempt::Done(results),
        Err(e) => Attempt::Failed(e.to_string()),
    }
}

/// One job inside its savepoint; on error the savepoint is rolled back and
/// the job's events are dropped with it.
async fn run_job(
    tx: &mut Tx,
    directory: &Directory,
    changes: Vec<Change>,
) -> Result<(Vec<Outcome>, Vec<NewEvent>), StoreError> {
    savepoint(tx, "SAVEPOINT rollcall_job").await?;
    match apply_in_tx(tx, directory, changes).await {
        Ok(done) => {
            savepoint(tx, "RELEASE SAVEPOINT rollcall_job").await?;
            Ok(done)
        }
        Err(e) => {
            savepoint(tx, "ROLLBACK TO SAVEPOINT rollcall_job").await?;
            savepoint(tx, "RELEASE SAVEPOINT rollcall_job").await?;
            Err(e)
        }
    }
}
