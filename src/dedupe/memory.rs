//! In-process index: a FIFO ring of compact entries plus two open-addressing
//! tables of 32-bit sequence numbers (LSH band buckets, and article-id hash →
//! entry for replays).
//!
//! Per article held (defaults: 64 hashes, 21 bands x 3 rows):
//! * signature: 64 bytes (b-bit MinHash, one byte per hash);
//! * entry: 32 bytes (id hash, event time, cluster-id offset/len, similarity,
//!   word count);
//! * cluster id string (the canonical article id) in a FIFO byte arena;
//! * 22 table slots of 4 bytes at 50-75 % load (21 bands + 1 id).
//!
//! Band buckets hold no keys: a slot holds only the entry's sequence number,
//! and a hit is verified by comparing the band's bytes in the stored
//! signature. Evicted entries leave stale slots that act as tombstones until
//! the table is rebuilt (when occupied slots exceed 75 %).

use std::collections::VecDeque;
use std::sync::Mutex;

use super::fingerprint::{ConfirmRule, band_hash, hash_id, round_similarity};
use super::{DedupeResult, DedupeSettings, DedupeStatus, Fingerprint, StoreError};

/// At most this many live entries are chained per identical band value: a big
/// cluster does not need more representatives, and it keeps probes short.
const MAX_PER_BUCKET: usize = 4;
/// Seqs are stored modulo this (0 marks an empty slot).
const SEQ_MOD: u64 = u32::MAX as u64;
const NO_SIM: u16 = u16::MAX;

#[derive(Clone, Copy, Default)]
struct Entry {
    id_hash: u64,
    cluster_off: u64,
    event_ms: i64,
    cluster_len: u32,
    /// Similarity × 10⁴ for duplicates, `NO_SIM` for unique articles (so it
    /// also encodes the status).
    sim: u16,
    /// Normalized word count (saturating), for the containment estimate.
    tokens: u16,
}

struct Index {
    h: usize,
    bands: usize,
    rows: usize,
    rule: ConfirmRule,
    window_ms: i64,
    max_entries: usize,
    cap: usize,
    head: u64,
    tail: u64,
    entries: Vec<Entry>,
    sigs: Vec<u8>,
    arena: VecDeque<u8>,
    arena_base: u64,
    band_slots: Vec<u32>,
    band_used: usize,
    id_slots: Vec<u32>,
    id_used: usize,
    watermark: i64,
}

/// In-memory store (default). One process only; lost on restart.
pub struct MemoryStore {
    // A std Mutex, not tokio's: the critical section is short, CPU-only and
    // never awaits, so a blocking lock is cheaper and cannot be held across
    // an .await (which would block other tasks on this worker thread or
    // deadlock). Fingerprinting happens outside the lock.
    inner: Mutex<Index>,
}

/// Store `seq` in the first tombstone seen while probing (`free`), else in the empty slot `end`
/// where the probe stopped. Returns true when an empty slot was used (occupancy grew).
#[inline]
fn place(slots: &mut [u32], free: Option<usize>, end: usize, seq: u64) -> bool {
    match free {
        Some(f) => {
            slots[f] = encode(seq);
            false
        }
        None => {
            slots[end] = encode(seq);
            true
        }
    }
}

#[inline]
fn pos(h: u64, len: usize) -> usize {
    ((h as u128 * len as u128) >> 64) as usize
}

#[inline]
fn encode(seq: u64) -> u32 {
    (seq % SEQ_MOD) as u32 + 1
}

impl Index {
    #[inline]
    fn decode(&self, code: u32) -> Option<u64> {
        let r = (code - 1) as u64;
        let mut s = self.head - self.head % SEQ_MOD + r;
        if s < self.head {
            s += SEQ_MOD;
        }
        (s < self.tail).then_some(s)
    }
    #[inline]
    fn slot(&self, seq: u64) -> usize {
        (seq % self.cap as u64) as usize
    }
    #[inline]
    fn sig(&self, seq: u64) -> &[u8] {
        let s = self.slot(seq) * self.h;
        &self.sigs[s..s + self.h]
    }
    fn live(&self) -> usize {
        (self.tail - self.head) as usize
    }

    fn result_of(&self, seq: u64) -> DedupeResult {
        let e = &self.entries[self.slot(seq)];
        let start = (e.cluster_off - self.arena_base) as usize;
        let bytes: Vec<u8> = self
            .arena
            .range(start..start + e.cluster_len as usize)
            .copied()
            .collect();
        let cluster = String::from_utf8(bytes).unwrap_or_default();
        DedupeResult {
            status: if e.sim != NO_SIM {
                DedupeStatus::Duplicate
            } else {
                DedupeStatus::Unique
            },
            duplicate_of: (e.sim != NO_SIM).then(|| cluster.clone()),
            similarity: (e.sim != NO_SIM).then(|| e.sim as f64 / 10_000.0),
            cluster_id: cluster,
            store_error: false,
        }
    }

    fn find_id(&self, id_hash: u64) -> Option<u64> {
        if self.id_slots.is_empty() {
            return None;
        }
        let len = self.id_slots.len();
        let mut p = pos(id_hash, len);
        loop {
            let v = self.id_slots[p];
            if v == 0 {
                return None;
            }
            if let Some(seq) = self.decode(v)
                && self.entries[self.slot(seq)].id_hash == id_hash
            {
                return Some(seq);
            }
            p = if p + 1 == len { 0 } else { p + 1 };
        }
    }

    fn band_candidates(&self, sig: &[u8], out: &mut Vec<u64>) {
        if self.band_slots.is_empty() {
            return;
        }
        let len = self.band_slots.len();
        for b in 0..self.bands {
            let range = b * self.rows..(b + 1) * self.rows;
            let mut p = pos(band_hash(sig, b, self.rows), len);
            loop {
                let v = self.band_slots[p];
                if v == 0 {
                    break;
                }
                if let Some(seq) = self.decode(v)
                    && self.sig(seq)[range.clone()] == sig[range.clone()]
                {
                    out.push(seq);
                }
                p = if p + 1 == len { 0 } else { p + 1 };
            }
        }
    }

    /// Inserts band `b` of live entry `seq` into `slots`. Returns true when
    /// an empty slot was consumed.
    fn put_band(&self, slots: &mut [u32], seq: u64, b: usize) -> bool {
        let sig = self.sig(seq);
        let range = b * self.rows..(b + 1) * self.rows;
        let len = slots.len();
        let mut p = pos(band_hash(sig, b, self.rows), len);
        let mut free = None;
        let mut same = 0;
        loop {
            let v = slots[p];
            if v == 0 {
                break;
            }
            match self.decode(v) {
                Some(s) if self.sig(s)[range.clone()] == sig[range.clone()] => same += 1,
                Some(_) => {}
                None => {
                    if free.is_none() {
                        free = Some(p);
                    }
                }
            }
            p = if p + 1 == len { 0 } else { p + 1 };
        }
        if same >= MAX_PER_BUCKET {
            return false;
        }
        place(slots, free, p, seq)
    }

    fn put_id(&self, slots: &mut [u32], seq: u64) -> bool {
        let len = slots.len();
        let mut p = pos(self.entries[self.slot(seq)].id_hash, len);
        let mut free = None;
        loop {
            let v = slots[p];
            if v == 0 {
                break;
            }
            if free.is_none() && self.decode(v).is_none() {
                free = Some(p);
            }
            p = if p + 1 == len { 0 } else { p + 1 };
        }
        place(slots, free, p, seq)
    }

    /// Rebuilds both tables from live entries when the next insert would push
    /// occupied slots (live + tombstones) over 75 %.
    fn maybe_rebuild(&mut self) {
        let live = self.live() + 1;
        if (self.band_used + self.bands) * 4 > self.band_slots.len() * 3 {
            let mut slots = vec![0u32; (live * self.bands * 2).max(64)];
            let mut used = 0;
            for seq in self.head..self.tail {
                for b in 0..self.bands {
                    used += self.put_band(&mut slots, seq, b) as usize;
                }
            }
            self.band_slots = slots;
            self.band_used = used;
        }
        if (self.id_used + 1) * 4 > self.id_slots.len() * 3 {
            let mut slots = vec![0u32; (live * 2).max(64)];
            let mut used = 0;
            for seq in self.head..self.tail {
                used += self.put_id(&mut slots, seq) as usize;
            }
            self.id_slots = slots;
            self.id_used = used;
        }
    }

    fn evict_head(&mut self) {
        let e = self.entries[self.slot(self.head)];
        let drop_to = (e.cluster_off + e.cluster_len as u64 - self.arena_base) as usize;
        self.arena.drain(..drop_to);
        self.arena_base += drop_to as u64;
        self.head += 1;
    }

    fn grow_ring(&mut self) {
        let new_cap = (self.cap * 2).max(1024).min(self.max_entries);
        let mut entries = vec![Entry::default(); new_cap];
        let mut sigs = vec![0u8; new_cap * self.h];
        for seq in self.head..self.tail {
            let (o, n) = (self.slot(seq), (seq % new_cap as u64) as usize);
            entries[n] = self.entries[o];
            sigs[n * self.h..(n + 1) * self.h]
                .copy_from_slice(&self.sigs[o * self.h..(o + 1) * self.h]);
        }
        self.entries = entries;
        self.sigs = sigs;
        self.cap = new_cap;
    }

    fn check_and_insert(&mut self, id: &str, fp: &Fingerprint, t: i64) -> DedupeResult {
        let id_hash = hash_id(id);
        if let Some(seq) = self.find_id(id_hash) {
            return self.result_of(seq); // replay: same decision as before
        }
        if fp.is_empty() {
            return DedupeResult::unique(id); // nothing to compare; not indexed
        }
        // Expire by event time (watermark = newest event time seen) and by size.
        self.watermark = self.watermark.max(t);
        let cutoff = self.watermark.saturating_sub(self.window_ms);
        while self.live() > 0
            && (self.live() >= self.max_entries
                || self.entries[self.slot(self.head)].event_ms < cutoff)
        {
            self.evict_head();
        }

        let sig = fp.signature();
        let tokens = fp.tokens().min(u16::MAX as u32);
        let mut cands = Vec::new();
        self.band_candidates(sig, &mut cands);
        cands.sort_unstable();
        cands.dedup();
        let mut best: Option<(u64, f64)> = None;
        for &seq in &cands {
            let e = &self.entries[self.slot(seq)];
            // An article is never a duplicate of itself, even when its own id record is gone.
            if e.id_hash == id_hash || (e.event_ms - t).abs() > self.window_ms {
                continue;
            }
            let Some(s) = self
                .rule
                .confirm(sig, tokens, self.sig(seq), e.tokens as u32)
            else {
                continue;
            };
            if best.is_none_or(|(_, bs)| s > bs) {
                best = Some((seq, s));
            }
        }
        let (cluster, sim) = match best {
            Some((seq, s)) => {
                let e = &self.entries[self.slot(seq)];
                let start = (e.cluster_off - self.arena_base) as usize;
                let c: Vec<u8> = self
                    .arena
                    .range(start..start + e.cluster_len as usize)
                    .copied()
                    .collect();
                (c, Some(round_similarity(s)))
            }
            None => (id.as_bytes().to_vec(), None),
        };

        // Insert.
        if self.live() == self.cap {
            self.grow_ring();
        }
        self.maybe_rebuild();
        let seq = self.tail;
        let slot = self.slot(seq);
        self.entries[slot] = Entry {
            id_hash,
            cluster_off: self.arena_base + self.arena.len() as u64,
            event_ms: t,
            cluster_len: cluster.len() as u32,
            sim: sim.map_or(NO_SIM, |s| (s * 10_000.0).round() as u16),
            tokens: tokens as u16,
        };
        self.sigs[slot * self.h..(slot + 1) * self.h].copy_from_slice(sig);
        self.arena.extend(&cluster);
        self.tail += 1;
        let mut slots = std::mem::take(&mut self.band_slots);
        for b in 0..self.bands {
            self.band_used += self.put_band(&mut slots, seq, b) as usize;
        }
        self.band_slots = slots;
        let mut slots = std::mem::take(&mut self.id_slots);
        self.id_used += self.put_id(&mut slots, seq) as usize;
        self.id_slots = slots;

        let cluster = String::from_utf8(cluster).unwrap_or_default();
        match sim {
            Some(s) => DedupeResult {
                status: DedupeStatus::Duplicate,
                duplicate_of: Some(cluster.clone()),
                cluster_id: cluster,
                similarity: Some(s),
                store_error: false,
            },
            None => DedupeResult::unique(id),
        }
    }
}

impl MemoryStore {
    pub fn new(s: &DedupeSettings) -> Self {
        let (bands, rows) = s.band_layout();
        MemoryStore {
            inner: Mutex::new(Index {
                h: s.num_hashes,
                bands,
                rows,
                rule: ConfirmRule::new(s),
                window_ms: (s.window_secs as i64).saturating_mul(1000),
                max_entries: s.max_entries,
                cap: 0,
                head: 0,
                tail: 0,
                entries: Vec::new(),
                sigs: Vec::new(),
                arena: VecDeque::new(),
                arena_base: 0,
                band_slots: Vec::new(),
                band_used: 0,
                id_slots: Vec::new(),
                id_used: 0,
                watermark: i64::MIN,
            }),
        }
    }

    /// See [`super::Store::check_and_insert`]. Synchronous: takes the lock for
    /// a few microseconds (longer on the rare table rebuild).
    pub fn check_and_insert(
        &self,
        article_id: &str,
        fp: &Fingerprint,
        event_time_ms: i64,
    ) -> Result<DedupeResult, StoreError> {
        let mut idx = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        if fp.signature().len() != idx.h {
            return Err(StoreError::SignatureLength {
                got: fp.signature().len(),
                want: idx.h,
            });
        }
        Ok(idx.check_and_insert(article_id, fp, event_time_ms))
    }

    /// Articles currently held.
    pub fn entries(&self) -> u64 {
        self.inner.lock().map(|i| i.live() as u64).unwrap_or(0)
    }

    /// Bytes allocated by the index (capacities, not lengths): entries,
    /// signatures, cluster-id arena and both slot tables.
    pub fn approx_bytes(&self) -> u64 {
        let Ok(i) = self.inner.lock() else { return 0 };
        (std::mem::size_of::<Index>()
            + i.entries.capacity() * std::mem::size_of::<Entry>()
            + i.sigs.capacity()
            + i.arena.capacity()
            + (i.band_slots.capacity() + i.id_slots.capacity()) * 4) as u64
    }

    /// `(bands, rows)` in use.
    pub fn band_layout(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|i| (i.bands, i.rows))
            .unwrap_or((0, 0))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dedupe::Fingerprinter;

    fn settings() -> DedupeSettings {
        DedupeSettings {
            window_secs: 100,
            max_entries: 3000,
            ..Default::default()
        }
    }

    #[test]
    fn unique_duplicate_replay_window_and_eviction() {
        let s = settings();
        let f = Fingerprinter::new(&s);
        let m = MemoryStore::new(&s);
        let text = "The central bank raised interest rates by a quarter point on Thursday, \
                    citing persistent inflation in services and a tight labour market across the country.";
        let a = f.fingerprint(text);
        let b = f.fingerprint(&format!("{text} Markets fell."));
        let r1 = m.check_and_insert("a", &a, 1_000).unwrap();
        assert_eq!(r1, DedupeResult::unique("a"));
        let r2 = m.check_and_insert("b", &b, 2_000).unwrap();
        assert!(r2.is_duplicate(), "{r2:?}");
        assert_eq!(r2.cluster_id, "a");
        assert_eq!(m.check_and_insert("b", &b, 9_000).unwrap(), r2);
        assert_eq!(m.check_and_insert("a", &a, 9_000).unwrap(), r1);
        // Outside the window (event time 200 s later): new cluster.
        let r3 = m.check_and_insert("c", &a, 300_000).unwrap();
        assert_eq!(r3.status, DedupeStatus::Unique);
        assert_eq!(m.entries(), 1); // a and b expired by the watermark

        // Size cap with oldest-first eviction and ring/table growth.
        for i in 0..10_000u64 {
            let sig: Vec<u8> = (0..64)
                .map(|j| super::super::fingerprint::mix64(i * 64 + j) as u8)
                .collect();
            let r = m
                .check_and_insert(
                    &format!("s{i}"),
                    &Fingerprint::from_parts(sig, i, 100),
                    300_000,
                )
                .unwrap();
            assert_eq!(r.status, DedupeStatus::Unique);
        }
        assert_eq!(m.entries(), 3000);
        let sig: Vec<u8> = (0..64)
            .map(|j| super::super::fingerprint::mix64(9_999 * 64 + j) as u8)
            .collect();
        let r = m
            .check_and_insert("dup", &Fingerprint::from_parts(sig, 0, 100), 300_000)
            .unwrap();
        assert_eq!(r.cluster_id, "s9999");
        assert_eq!(r.similarity, Some(1.0));
    }
}
