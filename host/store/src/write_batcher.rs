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

use crate::backend::{BackendKind, Store, Tx};
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
/// On SQLite the loop gets an OS thread and a runtime of its own: every
/// statement is a hop to sqlx's SQLite worker thread, and the wake-up that
/// answers it comes from outside the server's runtime, where it would wait
/// in the shared queue behind every busy HTTP task. A writer that waits
/// there dozens of times per batch caps the whole server's write rate.
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
                    Ok(runtime) => runtime.block_on(run(writer, rx)),
                    Err(e) => tracing::error!(error = %e, "cannot start the SQLite writer"),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the SQLite writer thread");
        }
    } else {
        tokio::spawn(run(writer, rx));
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&store, jobs).await;
    }
}

async fn savepoint(tx: &mut Tx, statement: &'static str) -> Result<(), StoreError> {
    on_tx!(tx, |conn| {
        sqlx::query(statement).execute(&mut *conn).await?;
    });
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

async fn commit_batch(store: &Store, jobs: Vec<Job>) {
    let mut work = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        work.push((job.directory_id, job.changes));
        replies.push(job.reply);
    }
    let mut attempt = run_batch(store, &work, Mode::Optimistic).await;
    if matches!(attempt, Attempt::JobFailed) {
        attempt = run_batch(store, &work, Mode::Savepoints).await;
    }
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

/// One run of the batch in one transaction.
async fn run_batch(store: &Store, work: &[(String, Vec<Change>)], mode: Mode) -> Attempt {
    let mut tx = match store.begin().await {
        Ok(tx) => tx,
        Err(e) => return Attempt::Failed(e.to_string()),
    };
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
