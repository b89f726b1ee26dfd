//! Group commit for directory-state writes.
//!
//! Every `apply_changes` call becomes a job on a queue. One task per store
//! takes whatever jobs are waiting (up to [`MAX_JOBS`]), opens one
//! transaction, runs each job inside its own savepoint (a failing job rolls
//! back to its savepoint and reports its error; the others are unaffected),
//! commits once, and only then answers every job. Under load, hundreds of
//! SCIM writes share one fsync; alone, a job commits immediately.
//!
//! Invariant: a job's caller gets `Ok` only after the commit that made its
//! changes and events durable succeeded.

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::backend::{Store, Tx};
use crate::directory_state::{Change, Outcome, apply_in_tx};
use crate::error::StoreError;

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
                tokio::spawn(run(store.clone(), rx));
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

async fn commit_batch(store: &Store, jobs: Vec<Job>) {
    let mut tx = match store.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::Internal(message.clone())));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        let result = run_job(&mut tx, &job.directory_id, job.changes).await;
        results.push(result);
        replies.push(job.reply);
    }
    match tx.commit().await {
        Ok(()) => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            let message = e.to_string();
            for reply in replies {
                let _ = reply.send(Err(StoreError::Internal(format!(
                    "commit failed: {message}"
                ))));
            }
        }
    }
}

/// One job inside its savepoint; on error the savepoint is rolled back.
async fn run_job(
    tx: &mut Tx,
    directory_id: &str,
    changes: Vec<Change>,
) -> Result<Vec<Outcome>, StoreError> {
    savepoint(tx, "SAVEPOINT rollcall_job").await?;
    match apply_in_tx(tx, directory_id, changes).await {
        Ok(outcomes) => {
            savepoint(tx, "RELEASE SAVEPOINT rollcall_job").await?;
            Ok(outcomes)
        }
        Err(e) => {
            savepoint(tx, "ROLLBACK TO SAVEPOINT rollcall_job").await?;
            savepoint(tx, "RELEASE SAVEPOINT rollcall_job").await?;
            Err(e)
        }
    }
}
