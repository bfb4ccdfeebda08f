//! Group commit: commands that arrive while the writer is busy run together
//! in the next transaction, one after another, and are answered after its
//! one `COMMIT`.
//!
//! Every statement is a round trip to SQLite's worker thread, and on a small
//! machine a round trip (two thread wake-ups) costs more than the SQL. So a
//! command queues itself and waits for the writer connection; whoever gets
//! the writer first takes every queued command (up to [`MAX_GROUP`]), opens
//! `BEGIN IMMEDIATE` with the role grants and the deletion requests the
//! commands name read in the same round trip, runs the commands in order
//! (each sees the writes of those before it), and sends all their writes
//! (requests, audit, outbox and job rows) with the `COMMIT`: a group of
//! deletion commands is two round trips, however many commands it holds.
//! When more commands are queued by the commit, the same round trip opens
//! their transaction (see `Tx::commit_then_begin`) and they run next, in a
//! task of their own so the leader's caller has its answer at once: under
//! steady load a group is one round trip.
//!
//! A command that fails or is refused must leave nothing behind, and it may
//! have written before it failed: the group then rolls back, answers that
//! command, and runs the others again without it. Nobody is answered before
//! the commit that makes their command durable.

use std::sync::Mutex;

use tokio::sync::oneshot;

use super::context::CommandError;
use super::features::Command;
use super::{App, Ctx, Invocation, Reply, internal_error, refusal, roles};
use crate::grammar::{CommandSpec, Parsed, SubSpec};
use crate::store::{Chained, Pending, Session, Tagged, Tx, Writer, batch::Batch};

/// The most commands in one transaction.
pub const MAX_GROUP: usize = 64;

/// The most groups run one after another without letting go of the writer
/// (webhooks, the outbox and the scheduler wait for it too).
pub const MAX_CHAIN: usize = 16;

/// Commands waiting for the writer.
#[derive(Default)]
pub struct Queue(Mutex<Vec<Queued>>);

struct Queued {
    inv: Invocation,
    command: Command,
    /// The usage line of an invalid command comes from here.
    spec: (&'static CommandSpec, &'static SubSpec),
    reply: oneshot::Sender<Reply>,
}

impl Queue {
    fn push(&self, item: Queued) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(item);
    }

    fn take(&self) -> Vec<Queued> {
        let mut queue = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = queue.len().min(MAX_GROUP);
        queue.drain(..n).collect()
    }

    /// Puts commands taken for a group that could not run back at the front.
    fn put_back(&self, items: Vec<Queued>) {
        let mut queue = self.0.lock().unwrap_or_else(|e| e.into_inner());
        queue.splice(0..0, items);
    }
}

/// One command's outcome within the group.
type Outcome = Result<(Reply, (bool, bool)), Reply>;

/// How a group starts: with the writer, or with its transaction already
/// opened (and its reads done) by the previous group's commit.
enum Start {
    Writer(Writer),
    Open(Tx, Tagged),
}

/// The next group, its transaction open, and how many groups ran before it
/// without letting go of the writer.
type Next = (Start, Vec<Queued>, usize);

/// Adds the reads a group needs to the statements that open its transaction.
fn reads_for(group: &[Queued], reads: &mut Batch) {
    let mut wanted = crate::store::Reads::default();
    for item in group {
        item.command.reads(&mut wanted);
    }
    wanted.add_to(reads);
}

impl App {
    /// Runs a parsed command in the next group transaction; returns its reply
    /// once that transaction has committed (or the command was refused).
    pub(super) async fn run_grouped(
        &self,
        inv: &Invocation,
        command: Command,
        parsed: &Parsed,
    ) -> Reply {
        loop {
            let (reply, mut answer) = oneshot::channel();
            self.queue.push(Queued {
                inv: inv.clone(),
                command: command.clone(),
                spec: (parsed.command, parsed.sub),
                reply,
            });
            loop {
                // Wait for the answer or the writer, whichever comes first: a
                // command answered by someone else's group leaves the queue
                // for the writer at once, so the next group starts sooner.
                let writer = tokio::select! {
                    biased;
                    answered = &mut answer => match answered {
                        Ok(reply) => return reply,
                        Err(_) => break, // its group was cancelled: queue it again
                    },
                    writer = self.db.lock() => writer,
                };
                match answer.try_recv() {
                    Ok(reply) => return reply,
                    Err(oneshot::error::TryRecvError::Empty) => {
                        // still queued: lead the next group (it includes ours
                        // unless MAX_GROUP others were queued before it)
                        let group = self.queue.take();
                        if let Some(next) = self.run_group(Start::Writer(writer), group, 0).await {
                            self.keep_going(next);
                        }
                    }
                    // the group that held it was cancelled: queue it again
                    Err(oneshot::error::TryRecvError::Closed) => break,
                }
            }
        }
    }

    /// Runs the groups that keep arriving while the writer is held, in a task
    /// of their own: the leader that started them has its answer already.
    fn keep_going(&self, next: Next) {
        let app = self.clone();
        tokio::spawn(async move {
            let mut next = Some(next);
            while let Some((start, group, chained)) = next.take() {
                next = app.run_group(start, group, chained).await;
            }
        });
    }

    /// Runs one group to its commit. When more commands are queued by then
    /// (and fewer than [`MAX_CHAIN`] groups ran in a row), the commit opens
    /// their transaction in the same round trip and they are returned, to
    /// run next.
    async fn run_group(
        &self,
        start: Start,
        mut group: Vec<Queued>,
        chained: usize,
    ) -> Option<Next> {
        let mut start = Some(start);
        while let Some(opening) = start.take() {
            if group.is_empty() {
                return None;
            }
            let opened = match opening {
                Start::Open(tx, found) => Ok((tx, found)),
                Start::Writer(held) => {
                    let mut reads = Batch::default();
                    reads_for(&group, &mut reads);
                    Tx::begin_with(held, reads).await
                }
            };
            let opened = opened.and_then(|(tx, found)| Ok((tx, Pending::from_found(&found)?)));
            let (mut tx, mut pending) = match opened {
                Ok(opened) => opened,
                Err(e) => {
                    answer_all(group, internal_error(e));
                    return None;
                }
            };
            let mut done = Vec::with_capacity(group.len());
            let mut failed = None;
            for (i, item) in group.iter().enumerate() {
                match self.run_one(&mut tx, &mut pending, item).await {
                    Ok(ok) => done.push(ok),
                    Err(reply) => {
                        failed = Some((i, reply));
                        break;
                    }
                }
            }
            if let Some((i, reply)) = failed {
                // undo the whole group, answer the failed command, run the rest again
                let item = group.remove(i);
                let _ = item.reply.send(reply);
                match tx.rollback_keep().await {
                    Ok(held) => start = Some(Start::Writer(held)),
                    Err(e) => {
                        answer_all(group, internal_error(e));
                        return None;
                    }
                }
                continue;
            }
            let batch = match pending.into_batch() {
                Ok(batch) => batch,
                Err(e) => {
                    answer_all(group, internal_error(e));
                    return None;
                }
            };
            let next = if chained + 1 < MAX_CHAIN {
                self.queue.take()
            } else {
                Vec::new()
            };
            let outcome = if next.is_empty() {
                match batch.into_parts() {
                    Ok((sql, args)) => tx.commit_with(sql, args).await.map(|()| None),
                    Err(e) => Err(e),
                }
            } else {
                match tx
                    .commit_then_begin(batch, |reads| reads_for(&next, reads))
                    .await
                {
                    Ok(Chained::Open(tx, found)) => Ok(Some(Start::Open(tx, found))),
                    Ok(Chained::Committed(held, e)) => {
                        tracing::warn!(error = %format!("{e:#}"), "opening the next group's transaction failed; retrying");
                        Ok(Some(Start::Writer(held)))
                    }
                    Err(e) => Err(e),
                }
            };
            return match outcome {
                Ok(following) => {
                    let mut effects = (false, false);
                    for (item, (reply, (posted, scheduled))) in group.into_iter().zip(done) {
                        effects = (effects.0 || posted, effects.1 || scheduled);
                        let _ = item.reply.send(reply);
                    }
                    self.notify(effects);
                    following.map(|start| (start, next, chained + 1))
                }
                Err(e) => {
                    answer_all(group, internal_error(e));
                    // the writer is free again: the next commands lead their own group
                    self.queue.put_back(next);
                    None
                }
            };
        }
        None
    }

    /// Runs one command in the group's transaction, adding its writes to
    /// what the group has gathered.
    async fn run_one(&self, tx: &mut Tx, pending: &mut Pending, item: &Queued) -> Outcome {
        let inv = &item.inv;
        let grants = pending.grants().unwrap_or_default();
        let actor = roles::actor_with(&self.config, &inv.user, &inv.platform_roles, grants);
        let audit_actor = (inv.user.to_string(), inv.user.platform.to_string());
        let now = self.clock.now();
        let db = Session::new(tx, pending);
        let mut ctx = Ctx::new(db, self, actor, inv.channel.clone(), now, audit_actor);
        let result = item.command.clone().handle(&mut ctx).await;
        let effects = ctx.effects();
        match result {
            Ok(reply) => Ok((reply, effects)),
            Err(CommandError::User(e)) => Err(refusal(e, item.spec.0.usage_of(item.spec.1))),
            Err(CommandError::Internal(e)) => Err(internal_error(e)),
        }
    }
}

fn answer_all(group: Vec<Queued>, reply: Reply) {
    for item in group {
        let _ = item.reply.send(reply.clone());
    }
}
