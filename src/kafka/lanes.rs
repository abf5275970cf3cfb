//! Per-partition flow: every input partition has a lane of its own, with its own ordered queue
//! of messages in the stages and its own ordered queue of messages waiting for their
//! acknowledgements.
//!
//! Why lanes: order and offsets only have to hold *within* a partition. With one queue for
//! everything, one slow article or one output partition that does not answer (its leader is
//! gone) held back every input partition behind it, and filled the in-flight budget until the
//! whole worker stopped fetching. With lanes, a stuck message only holds back the rest of its
//! own partition; the loop takes ready work from any lane, and a lane that holds its share of
//! the in-flight budget ([`share`]) *and* has settled nothing for [`STALL`] is paused on the
//! consumer until it drains, so the other partitions keep the rest of the budget.
//!
//! Why both conditions: under ordinary CPU-bound load every lane sits at about its even share
//! (the global bound is what stops fetching), and pausing them there made librdkafka drop and
//! refetch each partition's prefetch over and over (the worker ran at half its speed, busy
//! decompressing the same input again). Only a lane that stopped moving needs a pause.
//!
//! This module is bookkeeping only (no Kafka calls): the consume loop in [`super::source`]
//! pauses and resumes partitions from what [`Lanes::throttle`] tells it.

use std::future::Future;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use indexmap::IndexMap;

/// An input partition: topic and partition number.
pub type PartitionKey = (String, i32);

/// Fewest messages a lane may always hold, whatever the number of assigned partitions: below
/// a store-decision window per partition, a busy partition among many idle ones would be slowed
/// down by its own bound.
pub const MIN_SHARE: usize = 64;

/// How long a full lane may go without settling a message before it is paused: far above the
/// time a moving lane takes to settle its next message, well below what a stuck one waits
/// (a broker failover, an article at its CPU budget).
pub const STALL: Duration = Duration::from_secs(1);

/// The most messages one partition may hold before it is paused: an even split of
/// `max_in_flight` over the assigned partitions, but at least [`MIN_SHARE`]; with two or more
/// partitions never more than half the budget, so one stuck partition always leaves room for
/// the others. With one partition (or none yet) there is nothing to protect and no limit of
/// its own: the global bound stops fetching, and librdkafka keeps what it prefetched (a pause
/// would drop it).
pub fn share(max_in_flight: usize, assigned: usize) -> usize {
    if assigned <= 1 {
        return usize::MAX;
    }
    let even = max_in_flight / assigned;
    even.max(MIN_SHARE.min(max_in_flight / 2)).max(1)
}

struct Lane<P: Future, D: Future> {
    processing: FuturesOrdered<P>,
    delivering: FuturesOrdered<D>,
    /// Bytes of the messages in this lane (their payload, key and headers).
    bytes: usize,
    /// Paused on the consumer by [`Lanes::throttle`].
    throttled: bool,
    /// When the lane last settled a message (or was created).
    moved: Instant,
}

impl<P: Future, D: Future> Lane<P, D> {
    fn new() -> Self {
        Lane {
            processing: FuturesOrdered::new(),
            delivering: FuturesOrdered::new(),
            bytes: 0,
            throttled: false,
            moved: Instant::now(),
        }
    }

    fn len(&self) -> usize {
        self.processing.len() + self.delivering.len()
    }
}

/// What became ready in some lane.
pub enum Ready<P, D> {
    /// A message's acknowledgements are all in (the oldest of its lane's delivering queue).
    Delivered(D),
    /// A message's stages are done (the oldest of its lane's processing queue).
    Processed(P),
}

/// A change the consumer must make after [`Lanes::throttle`].
#[derive(Debug, PartialEq, Eq)]
pub enum Throttle {
    Pause(PartitionKey),
    Resume(PartitionKey),
}

/// The lanes of the assigned partitions, in the order they first received a message.
pub struct Lanes<P: Future, D: Future> {
    lanes: IndexMap<PartitionKey, Lane<P, D>>,
    /// Where the next poll starts, so that a busy lane cannot starve the others.
    cursor: usize,
}

impl<P: Future, D: Future> Default for Lanes<P, D> {
    fn default() -> Self {
        Lanes {
            lanes: IndexMap::new(),
            cursor: 0,
        }
    }
}

impl<P: Future, D: Future> Lanes<P, D> {
    fn lane(&mut self, key: &PartitionKey) -> &mut Lane<P, D> {
        if !self.lanes.contains_key(key) {
            self.lanes.insert(key.clone(), Lane::new());
        }
        self.lanes.get_mut(key).expect("inserted above")
    }

    /// A message entered the stages: `work` resolves when they are done.
    pub fn push_processing(&mut self, key: &PartitionKey, bytes: usize, work: P) {
        let lane = self.lane(key);
        if lane.len() == 0 {
            // An idle lane has not been stuck meanwhile: its stall clock starts now.
            lane.moved = Instant::now();
        }
        lane.bytes += bytes;
        lane.processing.push_back(work);
    }

    /// A processed message's records were enqueued: `acks` resolves when all are settled.
    pub fn push_delivering(&mut self, key: &PartitionKey, acks: D) {
        self.lane(key).delivering.push_back(acks);
    }

    /// A message left its lane (settled, or given up on): its bytes no longer count.
    pub fn release(&mut self, key: &PartitionKey, bytes: usize) {
        if let Some(lane) = self.lanes.get_mut(key) {
            lane.bytes = lane.bytes.saturating_sub(bytes);
        }
    }

    /// Messages in all lanes, between receipt and acknowledgement.
    pub fn len(&self) -> usize {
        self.lanes.values().map(Lane::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.lanes.values().all(|lane| lane.len() == 0)
    }

    /// Bytes of the messages in all lanes.
    pub fn bytes(&self) -> usize {
        self.lanes.values().map(|lane| lane.bytes).sum()
    }

    /// Forget a partition (revoked, or lost to the group): its unfinished work is dropped, to be
    /// redone by the partition's next owner from the last committed offset. Returns the bytes
    /// it held, or `None` if it had no lane.
    pub fn remove(&mut self, key: &PartitionKey) -> Option<usize> {
        let lane = self.lanes.shift_remove(key)?;
        Some(lane.bytes)
    }

    /// The next ready item of any lane: acknowledgements first (they free room), then finished
    /// stages; lanes are visited round-robin from where the last hit was.
    /// With `processed = false` only acknowledgements are taken: an exactly-once commit waits
    /// for what its transaction enqueued, and enqueues nothing new meanwhile.
    pub fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        processed: bool,
    ) -> Poll<Ready<P::Output, D::Output>> {
        if let Some(delivered) = self.poll_round(cx, |lane, cx| {
            let polled = lane.delivering.poll_next_unpin(cx);
            if matches!(polled, Poll::Ready(Some(_))) {
                lane.moved = Instant::now();
            }
            polled
        }) {
            return Poll::Ready(Ready::Delivered(delivered));
        }
        if !processed {
            return Poll::Pending;
        }
        match self.poll_round(cx, |lane, cx| lane.processing.poll_next_unpin(cx)) {
            Some(processed) => Poll::Ready(Ready::Processed(processed)),
            None => Poll::Pending,
        }
    }

    /// Poll one queue of every lane (chosen by `queue`), from the cursor on, until one yields;
    /// the cursor then moves past that lane.
    fn poll_round<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut queue: impl FnMut(&mut Lane<P, D>, &mut Context<'_>) -> Poll<Option<T>>,
    ) -> Option<T> {
        let n = self.lanes.len();
        for step in 0..n {
            let i = (self.cursor + step) % n;
            let (_, lane) = self.lanes.get_index_mut(i).expect("index below len");
            if let Poll::Ready(Some(item)) = queue(lane, cx) {
                self.cursor = i + 1;
                return Some(item);
            }
        }
        None
    }

    /// Messages whose records are enqueued and not yet all acknowledged.
    pub fn delivering_len(&self) -> usize {
        self.lanes.values().map(|lane| lane.delivering.len()).sum()
    }

    /// Drop every lane (an aborted transaction: all unfinished work is redone after a rewind).
    pub fn clear(&mut self) {
        self.lanes.clear();
        self.cursor = 0;
    }

    /// The next ready item of any lane, as a future (see [`Lanes::poll_next`]).
    pub fn ready(&mut self) -> impl Future<Output = Ready<P::Output, D::Output>> + '_ {
        self.ready_if(true)
    }

    /// [`Lanes::ready`], taking finished stages only when `processed` (see [`Lanes::poll_next`]).
    pub fn ready_if(
        &mut self,
        processed: bool,
    ) -> impl Future<Output = Ready<P::Output, D::Output>> + '_ {
        futures::future::poll_fn(move |cx| self.poll_next(cx, processed))
    }

    /// Up to `max` more messages whose stages are already done, without waiting: each lane's in
    /// its own input order, lanes taken in turn.
    pub fn ready_processed(&mut self, max: usize) -> Vec<P::Output> {
        let mut out = Vec::new();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut progress = true;
        while out.len() < max && progress {
            progress = false;
            for (_, lane) in self.lanes.iter_mut() {
                if out.len() >= max {
                    break;
                }
                if let Poll::Ready(Some(processed)) = lane.processing.poll_next_unpin(&mut cx) {
                    out.push(processed);
                    progress = true;
                }
            }
        }
        out
    }

    /// Pause the lanes that hold `share` messages or more and settled nothing for `stall`,
    /// resume paused ones that have drained to half of it (unless `hold` says every partition
    /// stays paused, as during a store outage). Returns the changes for the consumer to make.
    pub fn throttle(&mut self, share: usize, stall: Duration, hold: bool) -> Vec<Throttle> {
        let mut changes = Vec::new();
        for (key, lane) in self.lanes.iter_mut() {
            let len = lane.len();
            if !lane.throttled && len >= share && lane.moved.elapsed() >= stall {
                lane.throttled = true;
                changes.push(Throttle::Pause(key.clone()));
            } else if lane.throttled && !hold && len <= share / 2 {
                lane.throttled = false;
                changes.push(Throttle::Resume(key.clone()));
            }
        }
        changes
    }

    /// The consumer resumed every partition (after a store outage): no lane is paused by us any
    /// more; the next [`Lanes::throttle`] pauses again those that are still full.
    pub fn forget_throttles(&mut self) {
        for lane in self.lanes.values_mut() {
            lane.throttled = false;
        }
    }

    /// Whether `key`'s lane is paused by [`Lanes::throttle`].
    pub fn is_throttled(&self, key: &PartitionKey) -> bool {
        self.lanes.get(key).is_some_and(|lane| lane.throttled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use futures::future::{BoxFuture, pending, ready};

    type TestLanes = Lanes<BoxFuture<'static, u32>, BoxFuture<'static, u32>>;

    fn key(p: i32) -> PartitionKey {
        ("in".to_owned(), p)
    }

    #[test]
    fn share_splits_the_budget_but_keeps_a_floor() {
        assert_eq!(share(512, 2), 256);
        assert_eq!(
            share(512, 0),
            usize::MAX,
            "no assignment yet: no lane limit"
        );
        assert_eq!(
            share(16, 1),
            usize::MAX,
            "one partition: only the global bound"
        );
        assert_eq!(share(512, 100), MIN_SHARE, "never below the floor");
        assert_eq!(share(16, 4), 8, "the floor never exceeds half the budget");
        assert_eq!(share(1, 8), 1);
    }

    #[test]
    fn a_stuck_lane_does_not_hold_back_another() {
        let mut lanes = TestLanes::default();
        // Partition 0: the oldest message never finishes; partition 1: both are done.
        lanes.push_processing(&key(0), 10, pending().boxed());
        lanes.push_processing(&key(0), 10, ready(2).boxed());
        lanes.push_processing(&key(1), 10, ready(3).boxed());
        lanes.push_processing(&key(1), 10, ready(4).boxed());
        let got = lanes.ready_processed(10);
        assert_eq!(
            got,
            vec![3, 4],
            "partition 1 flows, partition 0 keeps its order"
        );
        assert_eq!(lanes.len(), 2);
    }

    #[test]
    fn acknowledgements_come_first_and_lanes_take_turns() {
        let mut lanes = TestLanes::default();
        lanes.push_processing(&key(0), 1, ready(10).boxed());
        lanes.push_processing(&key(0), 1, ready(11).boxed());
        lanes.push_processing(&key(1), 1, ready(20).boxed());
        lanes.push_delivering(&key(1), ready(99).boxed());
        let mut order = Vec::new();
        while let Some(item) = lanes.ready().now_or_never() {
            order.push(match item {
                Ready::Delivered(d) => (true, d),
                Ready::Processed(p) => (false, p),
            });
            if order.len() == 4 {
                break;
            }
        }
        assert_eq!(order[0], (true, 99));
        // After a hit in lane 1 the next poll starts after it: lane 0, then lane 1, then lane 0.
        assert_eq!(&order[1..], &[(false, 10), (false, 20), (false, 11)]);
    }

    #[test]
    fn throttle_pauses_a_full_lane_and_resumes_it_at_half() {
        let mut lanes = TestLanes::default();
        for _ in 0..4 {
            lanes.push_processing(&key(0), 1, ready(0).boxed());
        }
        lanes.push_processing(&key(1), 1, ready(0).boxed());
        assert_eq!(
            lanes.throttle(4, Duration::ZERO, false),
            vec![Throttle::Pause(key(0))]
        );
        assert!(lanes.is_throttled(&key(0)));
        assert_eq!(
            lanes.throttle(4, Duration::ZERO, false),
            vec![],
            "already paused"
        );
        let _ = lanes.ready_processed(3); // lane 0 down to 1 or 2, lane 1 to 0
        assert_eq!(
            lanes.throttle(4, Duration::ZERO, true),
            vec![],
            "held: nothing resumes"
        );
        assert_eq!(
            lanes.throttle(4, Duration::ZERO, false),
            vec![Throttle::Resume(key(0))]
        );
    }

    #[test]
    fn a_full_lane_that_keeps_moving_is_not_paused() {
        let mut lanes = TestLanes::default();
        for _ in 0..4 {
            lanes.push_processing(&key(0), 1, ready(0).boxed());
        }
        // At its share but it settled something within the stall time (here: it was just
        // created): ordinary load, no pause (a pause would drop librdkafka's prefetch).
        assert_eq!(lanes.throttle(4, Duration::from_secs(3600), false), vec![]);
        assert!(!lanes.is_throttled(&key(0)));
        assert_eq!(
            lanes.throttle(4, Duration::ZERO, false),
            vec![Throttle::Pause(key(0))]
        );
    }

    #[test]
    fn removing_a_lane_returns_its_bytes_and_drops_its_work() {
        let mut lanes = TestLanes::default();
        lanes.push_processing(&key(0), 100, pending().boxed());
        lanes.push_processing(&key(1), 7, pending().boxed());
        lanes.release(&key(0), 40);
        assert_eq!(lanes.bytes(), 67);
        assert_eq!(lanes.remove(&key(0)), Some(60));
        assert_eq!(lanes.remove(&key(0)), None);
        assert_eq!((lanes.len(), lanes.bytes()), (1, 7));
    }
}
