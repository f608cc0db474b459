//! Group commit: sends that arrive together are written in one
//! transaction, so one commit (one fsync on SQLite, one WAL flush on
//! PostgreSQL) carries many messages.
//!
//! There is no writer thread. A send joins the queue, then waits for the
//! writer's turn; whoever gets the turn takes everything queued (up to the
//! batch limit) and writes it, and the others find their answer waiting.
//! While one batch commits, the next one gathers, so a lone send is written
//! at once and a busy server writes in large batches, without a timer.
//!
//! The batch is written in a task of its own that owns the writer's turn:
//! a request that goes away (its client hung up) cannot leave a batch half
//! done or the turn held.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// One queued send: what to write, and where its answer goes.
pub(super) struct Queued<T, R> {
    /// The send.
    pub(super) item: T,
    /// Its answer, delivered after the commit that holds it (or its
    /// failure).
    pub(super) answer: oneshot::Sender<R>,
}

/// The queue of sends waiting to be written, and the writer's turn.
pub(super) struct CommitQueue<T, R> {
    pending: Mutex<VecDeque<Queued<T, R>>>,
    turn: Arc<tokio::sync::Mutex<()>>,
    max_batch: usize,
}

impl<T, R> std::fmt::Debug for CommitQueue<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitQueue")
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static, R: Send + 'static> CommitQueue<T, R> {
    /// A queue writing at most `max_batch` sends per transaction (1: one
    /// transaction per send, the design before group commit).
    pub(super) fn new(max_batch: usize) -> Self {
        Self {
            pending: Mutex::new(VecDeque::new()),
            turn: Arc::new(tokio::sync::Mutex::new(())),
            max_batch: max_batch.max(1),
        }
    }

    /// Queues `item` and returns its answer once the transaction holding it
    /// has committed (or failed). `write` writes one batch and must answer
    /// every send in it; `lost` is the answer if it did not (it panicked).
    pub(super) async fn submit<W, F>(&self, item: T, write: W, lost: impl Fn() -> R) -> R
    where
        W: Fn(Vec<Queued<T, R>>) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let (answer, mut answered) = oneshot::channel();
        self.lock_pending().push_back(Queued { item, answer });
        loop {
            let turn = Arc::clone(&self.turn).lock_owned().await;
            match answered.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return lost(),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<_> = {
                let mut pending = self.lock_pending();
                let take = pending.len().min(self.max_batch);
                pending.drain(..take).collect()
            };
            if batch.is_empty() {
                // Only the turn's holder drains the queue and the turn
                // outlives the write, so this send was answered above;
                // waiting is the safe answer should that ever change.
                drop(turn);
                return answered.await.unwrap_or_else(|_| lost());
            }
            let writing = write(batch);
            // The turn is held by the task, not by this request.
            let _ = tokio::spawn(async move {
                writing.await;
                drop(turn);
            })
            .await;
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued<T, R>>> {
        // A panic while holding this lock cannot leave the queue half
        // changed (push and drain are single calls), so poison is ignored.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use tokio::sync::{Mutex, Semaphore};

    use super::{CommitQueue, Queued};

    type Writing = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

    /// A writer that records each batch's items and answers each with
    /// its own value doubled, once `gate` lets a batch through.
    fn writer(
        batches: Arc<Mutex<Vec<Vec<u32>>>>,
        gate: Arc<Semaphore>,
    ) -> impl Fn(Vec<Queued<u32, u32>>) -> Writing {
        move |batch| {
            let (batches, gate) = (batches.clone(), gate.clone());
            Box::pin(async move {
                gate.acquire().await.unwrap().forget();
                batches
                    .lock()
                    .await
                    .push(batch.iter().map(|q| q.item).collect());
                for queued in batch {
                    let _ = queued.answer.send(queued.item * 2);
                }
            })
        }
    }

    #[tokio::test]
    async fn sends_queued_while_a_batch_is_written_go_together_in_the_next() {
        let queue = Arc::new(CommitQueue::<u32, u32>::new(8));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Semaphore::new(0));
        let submit = |item: u32| {
            let (queue, write) = (queue.clone(), writer(batches.clone(), gate.clone()));
            tokio::spawn(async move { queue.submit(item, write, || 0).await })
        };
        // The first is written alone; while it waits at the gate, eleven
        // more arrive.
        let first = submit(0);
        tokio::task::yield_now().await;
        while !queue.lock_pending().is_empty() {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = (1..12).map(submit).collect();
        while queue.lock_pending().len() < 11 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(3);
        let mut answers = vec![first.await.unwrap()];
        for handle in rest {
            answers.push(handle.await.unwrap());
        }
        // Each got its own answer; the eleven went as a batch of the most
        // allowed (8), then the other 3.
        assert_eq!(answers, (0..12).map(|i| i * 2).collect::<Vec<u32>>());
        let batches = batches.lock().await.clone();
        assert_eq!(batches, vec![vec![0], (1..9).collect(), (9..12).collect()]);
    }

    #[tokio::test]
    async fn a_writer_that_dies_answers_with_the_lost_value_and_frees_the_turn() {
        let queue = CommitQueue::<u32, u32>::new(4);
        let lost = queue
            .submit(
                7,
                |batch| async move {
                    let _answers_dropped_by_the_panic = batch;
                    panic!("the writer dies")
                },
                || 99,
            )
            .await;
        assert_eq!(lost, 99);
        let gate = Arc::new(Semaphore::new(1));
        let batches = Arc::new(Mutex::new(Vec::new()));
        assert_eq!(queue.submit(5, writer(batches, gate), || 0).await, 10);
    }
}
