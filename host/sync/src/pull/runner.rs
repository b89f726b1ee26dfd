//! Driving one sync run: the directory's connector instance (one instance
//! serves every page of the run), page after page, each committed with the
//! run's new position; then the run's end or its deferral per the error.
//!
//! A full pass asks the connector for a checkpoint first (`changes(none)`:
//! "from now on"), then lists users, groups and each group's members,
//! marking everything it sees; only when all of that is in does it remove
//! what was not seen. An incremental run reads `changes` from the stored
//! checkpoint until the connector has no more; an expired checkpoint
//! (`not-found`) turns it into a full pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rollcall_core::Timestamp;
use rollcall_core::directory::Directory;
use rollcall_core::sync_settings::DirectorySyncSettings;
use rollcall_runtime::registry::prepare_installation;
use rollcall_runtime::{Change, ConnectorInstance, InvokeError, PluginError, Runtime};
use rollcall_store::{
    RunEnd, Store, StoreError, SyncChange, SyncMode, SyncPage, SyncPhase, SyncRefusal, SyncRun,
};

use super::outcome::{Next, classify};
use super::settings::PullSettings;

/// How the producer of a pipeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Produced {
    /// The run reached a step that is not a page read (removal, done).
    Phase,
    /// The connector said the checkpoint expired: run a full pass.
    Expired,
}

/// The part of a run's state that says where it is.
#[derive(Debug, Clone, PartialEq)]
struct Position {
    phase: SyncPhase,
    cursor: Option<String>,
    member_group: Option<String>,
    checkpoint: Option<String>,
    generation: Option<i64>,
}

impl Position {
    fn of(run: &SyncRun) -> Position {
        Position {
            phase: run.phase,
            cursor: run.cursor.clone(),
            member_group: run.member_group.clone(),
            checkpoint: run.checkpoint.clone(),
            generation: run.generation,
        }
    }

    fn apply(&self, run: &mut SyncRun) {
        run.phase = self.phase;
        run.cursor = self.cursor.clone();
        run.member_group = self.member_group.clone();
        run.checkpoint = self.checkpoint.clone();
    }
}

/// What the producer hands the consumer.
enum Item {
    /// A page and the position after it.
    Page {
        page: SyncPage,
        items: usize,
        after: Position,
    },
    /// Commit everything, then answer.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// Pages read ahead of the commits at most (bounds memory).
const PIPELINE_PAGES: usize = 8;

/// Memberships, groups or users removed per transaction after a full pass.
const REMOVAL_BATCH: u32 = 500;

/// Pages read but not yet committed. Several pages share a transaction
/// (one fsync on SQLite instead of one per page) up to these bounds, which
/// also bound memory; the run's position is committed with them, so a
/// crash repeats at most these pages, without duplicate events.
struct Pending {
    pages: Vec<SyncPage>,
    items: usize,
    since: std::time::Instant,
}

/// Objects (users, groups, memberships, changes) per commit at most.
const FLUSH_ITEMS: usize = 5_000;
/// Pages per commit at most.
const FLUSH_PAGES: usize = 200;
/// Longest wait before buffered pages are committed (progress stays live).
const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

impl Pending {
    fn new() -> Self {
        Pending {
            pages: Vec::new(),
            items: 0,
            since: std::time::Instant::now(),
        }
    }

    fn push(&mut self, page: SyncPage, items: usize) {
        if self.pages.is_empty() {
            self.since = std::time::Instant::now();
        }
        self.pages.push(page);
        self.items += items;
    }

    fn due(&self) -> bool {
        self.items >= FLUSH_ITEMS
            || self.pages.len() >= FLUSH_PAGES
            || (!self.pages.is_empty() && self.since.elapsed() >= FLUSH_AFTER)
    }

    fn take(&mut self) -> Vec<SyncPage> {
        self.items = 0;
        std::mem::take(&mut self.pages)
    }
}

/// How a run attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    Succeeded(SyncRun),
    Failed(SyncRun),
    /// Given back to the queue to continue later (rate limit, retry).
    Deferred(SyncRun),
    /// Stopped by shutdown, or the lease went to another worker.
    Stopped,
}

/// Why a step stopped.
enum Stop {
    Invoke(InvokeError),
    Store(StoreError),
    /// A failure that is not the connector's (no connector bound …).
    Fail(&'static str, String),
    Interrupted,
}

impl From<InvokeError> for Stop {
    fn from(e: InvokeError) -> Self {
        Stop::Invoke(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

/// Runs sync runs; shared by the background worker and `rollcall sync run`.
#[derive(Clone)]
pub struct RunDriver {
    pub store: Store,
    pub runtime: Arc<Runtime>,
    pub settings: PullSettings,
}

impl RunDriver {
    /// Works on `run` (claimed by `owner`) until it ends, is deferred, or
    /// `stop` is set; records the outcome. `progress` sees the run after
    /// every committed page.
    pub async fn execute(
        &self,
        mut run: SyncRun,
        owner: &str,
        stop: &AtomicBool,
        progress: &(dyn Fn(&SyncRun) + Send + Sync),
    ) -> RunResult {
        let directory = match self.store.get_directory(&run.directory_id).await {
            Ok(Some(d)) => d,
            Ok(None) => return RunResult::Stopped,
            Err(e) => return self.after_error(run, owner, Stop::Store(e)).await,
        };
        let settings = DirectorySyncSettings::parse(
            &directory.settings,
            self.settings.default_interval_minutes,
        )
        .unwrap_or_else(|e| {
            tracing::warn!(directory = %directory.id, error = %e, "ignoring invalid sync settings");
            DirectorySyncSettings::defaults(self.settings.default_interval_minutes)
        });
        let result = self
            .drive(&mut run, &directory, &settings, owner, stop, progress)
            .await;
        match result {
            Ok(()) => {
                let next = next_slot(&settings);
                match self
                    .store
                    .finish_sync_run(&run, owner, RunEnd::Succeeded, next)
                    .await
                {
                    Ok(()) => {
                        tracing::info!(
                            run = %run.id, directory = %run.directory_id, mode = run.mode.as_str(),
                            pages = run.pages, "sync run succeeded"
                        );
                        match self.store.get_sync_run(&run.id).await {
                            Ok(Some(r)) => RunResult::Succeeded(r),
                            _ => RunResult::Succeeded(run),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(run = %run.id, error = %e, "could not finish sync run");
                        RunResult::Stopped
                    }
                }
            }
            Err(stop) => self.after_error(run, owner, stop).await,
        }
    }

    /// [`execute`](Self::execute) while renewing the run's lease; stops
    /// at a page boundary when `stop` is set or the lease is lost.
    pub async fn execute_leased(
        &self,
        run: SyncRun,
        owner: &str,
        stop: Arc<AtomicBool>,
        progress: &(dyn Fn(&SyncRun) + Send + Sync),
    ) -> RunResult {
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = super::worker::spawn_heartbeat(
            self.store.clone(),
            run.id.clone(),
            owner.to_owned(),
            self.settings.lease,
            lost.clone(),
            stop.clone(),
        );
        let either = Arc::new(AtomicBool::new(false));
        let (a, b, o) = (stop.clone(), lost.clone(), either.clone());
        let mirror = tokio::spawn(async move {
            while !(a.load(Ordering::Relaxed) || b.load(Ordering::Relaxed)) {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            o.store(true, Ordering::Relaxed);
        });
        let result = self.execute(run, owner, &either, progress).await;
        mirror.abort();
        heartbeat.abort();
        result
    }

    async fn after_error(&self, run: SyncRun, owner: &str, stop: Stop) -> RunResult {
        let next = match stop {
            Stop::Interrupted => return RunResult::Stopped,
            Stop::Store(StoreError::Conflict(m)) if m.contains("lease") => {
                tracing::warn!(run = %run.id, "sync run lease lost; another worker continues it");
                return RunResult::Stopped;
            }
            Stop::Store(StoreError::NotFound("directory")) => Next::Fail {
                kind: "directory_deleted",
                message: "the directory was deleted".into(),
                invalid_credentials: false,
                attention: false,
            },
            Stop::Store(e) => Next::Retry {
                kind: "database",
                message: e.to_string(),
            },
            Stop::Invoke(e) => classify(&e),
            Stop::Fail(kind, message) => Next::Fail {
                kind,
                message,
                invalid_credentials: false,
                attention: true,
            },
        };
        let (not_before, reason, count) = match next {
            Next::Wait {
                after,
                kind,
                message,
            } => (
                Timestamp::now().plus_seconds(after.as_secs().max(1) as i64),
                (kind, message),
                false,
            ),
            Next::Retry { kind, message } if run.attempts + 1 < self.settings.max_attempts => {
                let wait = self.settings.backoff_after(run.attempts + 1);
                (
                    Timestamp::from_micros(Timestamp::now().as_micros() + wait.as_micros() as i64),
                    (kind, message),
                    true,
                )
            }
            Next::Retry { kind, message } => {
                let message = format!(
                    "{message} (gave up after {} attempts)",
                    self.settings.max_attempts
                );
                return self.fail(run, owner, kind, message, false, false).await;
            }
            Next::Fail {
                kind,
                message,
                invalid_credentials,
                attention,
            } => {
                return self
                    .fail(run, owner, kind, message, invalid_credentials, attention)
                    .await;
            }
        };
        tracing::info!(
            run = %run.id, directory = %run.directory_id, kind = reason.0, error = %reason.1,
            "sync run deferred"
        );
        if let Err(e) = self
            .store
            .defer_sync_run(
                &run.id,
                owner,
                not_before,
                Some((reason.0, &reason.1)),
                count,
            )
            .await
        {
            tracing::warn!(run = %run.id, error = %e, "could not defer sync run");
            return RunResult::Stopped;
        }
        match self.store.get_sync_run(&run.id).await {
            Ok(Some(r)) => RunResult::Deferred(r),
            _ => RunResult::Deferred(run),
        }
    }

    async fn fail(
        &self,
        run: SyncRun,
        owner: &str,
        kind: &str,
        message: String,
        invalid_credentials: bool,
        attention: bool,
    ) -> RunResult {
        tracing::warn!(run = %run.id, directory = %run.directory_id, kind, error = %message, "sync run failed");
        let settings = match self.store.get_directory(&run.directory_id).await {
            Ok(Some(d)) => {
                DirectorySyncSettings::parse(&d.settings, self.settings.default_interval_minutes)
                    .ok()
            }
            _ => None,
        }
        .unwrap_or_else(|| DirectorySyncSettings::defaults(self.settings.default_interval_minutes));
        let end = RunEnd::Failed {
            kind: kind.to_owned(),
            message,
            invalid_credentials,
            attention,
        };
        if let Err(e) = self
            .store
            .finish_sync_run(&run, owner, end, next_slot(&settings))
            .await
        {
            tracing::warn!(run = %run.id, error = %e, "could not record the failed sync run");
            return RunResult::Stopped;
        }
        match self.store.get_sync_run(&run.id).await {
            Ok(Some(r)) => RunResult::Failed(r),
            _ => RunResult::Failed(run),
        }
    }

    async fn connector(&self, directory: &Directory) -> Result<ConnectorInstance, Stop> {
        let installation = match self.store.sync_connector(directory).await? {
            Ok(installation) => installation,
            Err(refusal @ SyncRefusal::NoConnector) => {
                return Err(Stop::Fail("no_connector", refusal.to_string()));
            }
            Err(refusal) => return Err(Stop::Fail("not_syncable", refusal.to_string())),
        };
        let (plugin, ctx) = prepare_installation(&self.runtime, &self.store, &installation)
            .await
            .map_err(|e| Stop::Fail("invalid_config", e.to_string()))?;
        Ok(self.runtime.connector(&plugin, ctx).await?)
    }

    async fn drive(
        &self,
        run: &mut SyncRun,
        directory: &Directory,
        settings: &DirectorySyncSettings,
        owner: &str,
        stop: &AtomicBool,
        progress: &(dyn Fn(&SyncRun) + Send + Sync),
    ) -> Result<(), Stop> {
        let mut connector = self.connector(directory).await?;
        let removed = settings.removed_users;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(Stop::Interrupted);
            }
            match run.phase {
                SyncPhase::Start => {
                    let state = self.store.directory_sync(&directory.id).await?;
                    let full_due =
                        state
                            .as_ref()
                            .and_then(|s| s.last_full_sync_at)
                            .is_none_or(|at| {
                                Timestamp::now().as_micros() - at.as_micros()
                                    >= i64::from(settings.full_interval_hours) * 3_600_000_000
                            });
                    match state.and_then(|s| s.checkpoint) {
                        Some(checkpoint) if !run.force_full && !full_due => {
                            run.mode = SyncMode::Incremental;
                            run.phase = SyncPhase::Changes;
                            run.checkpoint = Some(checkpoint);
                            self.store
                                .commit_sync_pages(run, owner, vec![SyncPage::Position], removed)
                                .await?;
                        }
                        _ => self.start_full(run, owner, &mut connector).await?,
                    }
                }
                SyncPhase::Users | SyncPhase::Groups | SyncPhase::Members | SyncPhase::Changes => {
                    let outcome = self
                        .pipeline(
                            run,
                            owner,
                            &mut connector,
                            directory,
                            removed,
                            stop,
                            progress,
                        )
                        .await?;
                    if outcome == Produced::Expired {
                        self.start_full(run, owner, &mut connector).await?;
                    }
                }
                SyncPhase::Removing => {
                    let seen = run.counts.users_created
                        + run.counts.users_updated
                        + run.counts.users_unchanged
                        + run.counts.users_skipped;
                    if seen == 0 && self.directory_has_users(&directory.id).await? {
                        return Err(Stop::Invoke(InvokeError::Plugin(PluginError::Permanent(
                            "the connector listed no users in a complete pass; refusing to remove \
                             every user of the directory (check the connector's configuration and \
                             permissions)"
                                .into(),
                        ))));
                    }
                    while self
                        .store
                        .remove_unseen(run, owner, removed, REMOVAL_BATCH)
                        .await?
                    {
                        progress(run);
                        if stop.load(Ordering::Relaxed) {
                            return Err(Stop::Interrupted);
                        }
                    }
                    run.phase = SyncPhase::Done;
                }
                SyncPhase::Done => return Ok(()),
            }
            progress(run);
        }
    }

    /// Reads pages (the producer) while earlier ones are committed (the
    /// consumer), from the run's position until the pass needs something
    /// else (removal, done, an expired checkpoint) or fails. Each commit
    /// carries the position after its last page; what was read before a
    /// failure is committed before the failure is answered.
    #[allow(clippy::too_many_arguments)]
    async fn pipeline(
        &self,
        run: &mut SyncRun,
        owner: &str,
        connector: &mut ConnectorInstance,
        directory: &Directory,
        removed: rollcall_core::sync_settings::RemovedUsersPolicy,
        stop: &AtomicBool,
        progress: &(dyn Fn(&SyncRun) + Send + Sync),
    ) -> Result<Produced, Stop> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Item>(PIPELINE_PAGES);
        let start = Position::of(run);
        let producer = self.produce(start, connector, &directory.id, stop, tx);
        // The consumer owns the receiver: when it stops (a failed commit),
        // the producer's next send fails instead of waiting forever.
        let run_ref = &mut *run;
        let consumer = async move {
            let run = run_ref;
            let mut pending = Pending::new();
            let mut last: Option<Position> = None;
            loop {
                let item = if pending.pages.is_empty() {
                    rx.recv().await
                } else {
                    // Commit when due, or when the producer is slower.
                    match tokio::time::timeout(FLUSH_AFTER, rx.recv()).await {
                        Ok(item) => item,
                        Err(_) => {
                            self.commit(run, owner, &mut pending, &last, removed)
                                .await?;
                            progress(run);
                            continue;
                        }
                    }
                };
                match item {
                    Some(Item::Page { page, items, after }) => {
                        pending.push(page, items);
                        last = Some(after);
                        if pending.due() {
                            self.commit(run, owner, &mut pending, &last, removed)
                                .await?;
                            progress(run);
                        }
                    }
                    Some(Item::Barrier(ack)) => {
                        self.commit(run, owner, &mut pending, &last, removed)
                            .await?;
                        progress(run);
                        let _ = ack.send(());
                    }
                    None => {
                        self.commit(run, owner, &mut pending, &last, removed)
                            .await?;
                        return Ok::<(), StoreError>(());
                    }
                }
            }
        };
        let (produced, consumed) = tokio::join!(producer, consumer);
        consumed?;
        let produced = produced?;
        if let Some(position) = produced.1 {
            position.apply(run);
        }
        Ok(produced.0)
    }

    /// Commits buffered pages with the position after the last of them.
    async fn commit(
        &self,
        run: &mut SyncRun,
        owner: &str,
        pending: &mut Pending,
        last: &Option<Position>,
        removed: rollcall_core::sync_settings::RemovedUsersPolicy,
    ) -> Result<(), StoreError> {
        if pending.pages.is_empty() {
            return Ok(());
        }
        if let Some(position) = last {
            position.apply(run);
        }
        let pages = pending.take();
        self.store
            .commit_sync_pages(run, owner, pages, removed)
            .await
    }

    /// The producer: connector reads from `pos`, each page sent with the
    /// position after it. Answers how it ended and, when it ended on a
    /// position change it did not send, that position.
    async fn produce(
        &self,
        mut pos: Position,
        connector: &mut ConnectorInstance,
        directory_id: &str,
        stop: &AtomicBool,
        tx: tokio::sync::mpsc::Sender<Item>,
    ) -> Result<(Produced, Option<Position>), Stop> {
        let size = self.settings.page_size;
        let send = |page: SyncPage, items: usize, after: &Position| {
            tx.send(Item::Page {
                page,
                items,
                after: after.clone(),
            })
        };
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(Stop::Interrupted);
            }
            match pos.phase {
                SyncPhase::Users => {
                    let page = connector.list_users(pos.cursor.clone(), size).await?;
                    match page.next_cursor {
                        Some(next) => pos.cursor = Some(next),
                        None => {
                            pos.phase = SyncPhase::Groups;
                            pos.cursor = None;
                        }
                    }
                    let n = page.items.len();
                    if send(SyncPage::Users(page.items), n, &pos).await.is_err() {
                        return Err(Stop::Interrupted);
                    }
                }
                SyncPhase::Groups => {
                    let page = connector.list_groups(pos.cursor.clone(), size).await?;
                    let done = page.next_cursor.is_none();
                    match page.next_cursor {
                        Some(next) => pos.cursor = Some(next),
                        None => {
                            pos.phase = SyncPhase::Members;
                            pos.cursor = None;
                            pos.member_group = None;
                        }
                    }
                    let n = page.items.len();
                    if send(SyncPage::Groups(page.items), n, &pos).await.is_err() {
                        return Err(Stop::Interrupted);
                    }
                    if done {
                        // The members phase walks the committed groups.
                        let (ack, acked) = tokio::sync::oneshot::channel();
                        if tx.send(Item::Barrier(ack)).await.is_err() || acked.await.is_err() {
                            return Err(Stop::Interrupted);
                        }
                        // Users and groups are in: plans for the members
                        // phase (and the next runs) see their real size.
                        self.store.refresh_directory_statistics().await?;
                    }
                }
                SyncPhase::Members => {
                    let generation = pos.generation.unwrap_or_default();
                    let Some(group) = pos.member_group.clone() else {
                        match self
                            .store
                            .next_member_group(directory_id, generation, None)
                            .await?
                        {
                            Some(first) => pos.member_group = Some(first),
                            None => {
                                pos.phase = SyncPhase::Removing;
                                return Ok((Produced::Phase, Some(pos)));
                            }
                        }
                        continue;
                    };
                    let page = match connector
                        .list_members(&group, pos.cursor.clone(), size)
                        .await
                    {
                        Ok(page) => page,
                        // The group vanished since it was listed: no members.
                        Err(InvokeError::Plugin(PluginError::NotFound(_))) => {
                            rollcall_runtime::Page {
                                items: Vec::new(),
                                next_cursor: None,
                            }
                        }
                        Err(e) => return Err(e.into()),
                    };
                    let mut finished = false;
                    match page.next_cursor {
                        Some(next) => pos.cursor = Some(next),
                        None => {
                            pos.cursor = None;
                            match self
                                .store
                                .next_member_group(directory_id, generation, Some(&group))
                                .await?
                            {
                                Some(next) => pos.member_group = Some(next),
                                None => {
                                    pos.member_group = None;
                                    pos.phase = SyncPhase::Removing;
                                    finished = true;
                                }
                            }
                        }
                    }
                    let user_idp_ids: Vec<String> = page
                        .items
                        .into_iter()
                        .filter(|m| m.group_idp_id == group || m.group_idp_id.is_empty())
                        .map(|m| m.user_idp_id)
                        .collect();
                    let n = user_idp_ids.len();
                    let page = SyncPage::Members {
                        group_idp_id: group,
                        user_idp_ids,
                    };
                    if send(page, n, &pos).await.is_err() {
                        return Err(Stop::Interrupted);
                    }
                    if finished {
                        return Ok((Produced::Phase, None));
                    }
                }
                SyncPhase::Changes => {
                    let page = match connector.changes(pos.checkpoint.as_deref()).await {
                        Ok(page) => page,
                        Err(InvokeError::Plugin(PluginError::NotFound(m))) => {
                            tracing::info!(
                                directory = %directory_id, reason = %m,
                                "checkpoint expired; running a full pass instead"
                            );
                            return Ok((Produced::Expired, None));
                        }
                        Err(e) => return Err(e.into()),
                    };
                    pos.checkpoint = Some(page.checkpoint);
                    let more = page.has_more;
                    if !more {
                        pos.phase = SyncPhase::Done;
                    }
                    let changes: Vec<SyncChange> =
                        page.changes.into_iter().map(sync_change).collect();
                    let n = changes.len();
                    if send(SyncPage::Changes(changes), n, &pos).await.is_err() {
                        return Err(Stop::Interrupted);
                    }
                    if !more {
                        return Ok((Produced::Phase, None));
                    }
                }
                _ => return Ok((Produced::Phase, None)),
            }
        }
    }

    /// Begins a full pass: the connector's "from now on" checkpoint (none
    /// when it has no incremental mode), a new generation, the users phase.
    async fn start_full(
        &self,
        run: &mut SyncRun,
        owner: &str,
        connector: &mut ConnectorInstance,
    ) -> Result<(), Stop> {
        let checkpoint = match connector.changes(None).await {
            Ok(page) => Some(page.checkpoint),
            Err(InvokeError::Plugin(PluginError::Permanent(_))) => None,
            Err(e) => return Err(e.into()),
        };
        run.mode = SyncMode::Full;
        run.phase = SyncPhase::Users;
        run.cursor = None;
        run.member_group = None;
        run.checkpoint = checkpoint;
        self.store.begin_full_pass(run, owner).await?;
        Ok(())
    }

    async fn directory_has_users(&self, directory_id: &str) -> Result<bool, StoreError> {
        let page = self
            .store
            .list_users(
                &rollcall_store::UserFilter {
                    directory_id: Some(directory_id.to_owned()),
                    ..Default::default()
                },
                &rollcall_store::PageRequest {
                    limit: 1,
                    ..Default::default()
                },
            )
            .await?;
        Ok(!page.data.is_empty())
    }
}

fn sync_change(change: Change) -> SyncChange {
    match change {
        Change::UserUpserted(u) => SyncChange::UpsertUser(u),
        Change::UserDeleted(id) => SyncChange::DeleteUser(id),
        Change::GroupUpserted(g) => SyncChange::UpsertGroup(g),
        Change::GroupDeleted(id) => SyncChange::DeleteGroup(id),
        Change::MemberAdded(m) => SyncChange::AddMember {
            group: m.group_idp_id,
            user: m.user_idp_id,
        },
        Change::MemberRemoved(m) => SyncChange::RemoveMember {
            group: m.group_idp_id,
            user: m.user_idp_id,
        },
    }
}

/// When the schedule should run the directory next.
fn next_slot(settings: &DirectorySyncSettings) -> Timestamp {
    Timestamp::now().plus_seconds(i64::from(settings.interval_minutes) * 60)
}
