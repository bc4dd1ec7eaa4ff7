//! An in-memory relay over one space: the relay's rules of the module docs, answered with the
//! crate's own codec, and nothing else (no tokens, limits, storage or sockets). It is what the
//! device's round is tested against, here and in the engine's convergence tests, and a reference for
//! relays written elsewhere: the package's TypeScript relay follows the same rules over a real
//! store.

use super::batch::Batch;
use super::decode::decode;
use super::encode::encode;
use super::message::{LogId, Message, Pull, Refusal, Welcome};
use super::{MAX_BATCH_BYTES, SUPPORTED_VERSIONS};
use crate::bundle::digest::{encode_clock, record_digest};
use crate::bundle::{Record, RecordDigest};
use crate::clock::VectorClock;
use crate::error::Result;
use crate::ids::Dot;

/// A record as the relay keeps it (a real relay keeps its bytes as they came).
#[derive(Debug, Clone)]
struct Kept {
    dot: Dot,
    hlc: u64,
    clock: Vec<u8>,
    changes: Vec<u8>,
    digest: RecordDigest,
}

/// One space's log, in memory.
#[derive(Debug, Clone)]
pub struct MemoryRelay {
    log: LogId,
    /// Position `i + 1` holds `records[i]`.
    records: Vec<Kept>,
    /// The most records it puts in a page.
    page_records: u64,
    pushes: usize,
}

impl MemoryRelay {
    /// An empty log `log`, answering pulls with at most `page_records` records a page.
    pub fn new(log: LogId, page_records: u64) -> MemoryRelay {
        MemoryRelay {
            log,
            records: Vec::new(),
            page_records,
            pushes: 0,
        }
    }

    /// The log's identity.
    pub fn log(&self) -> LogId {
        self.log
    }

    /// How many records the log holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when the log holds nothing.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// How many pushes it has stored.
    pub fn pushes(&self) -> usize {
        self.pushes
    }

    /// Appends a record as if a push had brought it (for setting up a log).
    pub fn hold(&mut self, dot: Dot, hlc: u64, clock: &[u8], changes: &[u8]) {
        let digest = record_digest(dot, hlc, clock, changes);
        self.records.push(Kept {
            dot,
            hlc,
            clock: clock.to_vec(),
            changes: changes.to_vec(),
            digest,
        });
    }

    /// Per origin, the `n` such that every record `1..=n` is held.
    pub fn clock(&self) -> VectorClock {
        let mut clock = VectorClock::new();
        let mut dots: Vec<Dot> = self.records.iter().map(|r| r.dot).collect();
        dots.sort();
        for dot in dots {
            if dot.seq == clock.get(&dot.origin) + 1 {
                clock.set(dot.origin, dot.seq);
            }
        }
        clock
    }

    /// The answer to one message: its answer, or an `Error` refusing it.
    pub fn answer(&mut self, bytes: &[u8]) -> Result<Vec<u8>> {
        let answer = match decode(bytes) {
            Ok(Message::Hello(_)) => Message::Welcome(Welcome {
                versions: SUPPORTED_VERSIONS.to_vec(),
                log: self.log,
                head: self.records.len() as u64,
                clock: self.clock(),
            }),
            Ok(Message::Push(records)) => self.store(&records),
            Ok(Message::Pull(pull)) => return self.page(pull),
            Ok(Message::Ping(nonce)) => Message::Pong(nonce),
            Ok(other) => refuse("ERR_PROTOCOL", other.name()),
            Err(error) => refuse(error.code().as_str(), &error.to_string()),
        };
        encode(&answer)
    }

    fn store(&mut self, records: &[Record<'_>]) -> Message<'static> {
        for record in records {
            let kept = self.records.iter().find(|k| k.dot == record.dot);
            if kept.is_some_and(|k| k.digest != record.digest) {
                return refuse("ERR_RECORD_MISMATCH", &record.dot.to_string());
            }
        }
        for record in records {
            if !self.records.iter().any(|k| k.dot == record.dot) {
                let clock = encode_clock(&record.clock);
                self.hold(record.dot, record.hlc, &clock, record.changes);
            }
        }
        self.pushes += 1;
        Message::Pushed(self.clock())
    }

    fn page(&self, pull: Pull) -> Result<Vec<u8>> {
        let limit = pull.max_records.min(self.page_records);
        let mut batch = Batch::new(limit, pull.max_bytes.min(MAX_BATCH_BYTES as u64));
        let after = pull.after.min(self.records.len() as u64);
        let start = usize::try_from(after).unwrap_or(self.records.len());
        for kept in &self.records[start..] {
            if !batch.offer(kept.dot, kept.hlc, &kept.clock, &kept.changes)? {
                break;
            }
        }
        let next = after + batch.len() as u64;
        let remaining = self.records.len() as u64 - next;
        Ok(batch.into_page(next.max(pull.after), remaining, remaining == 0))
    }
}

/// A refusal with `code`.
fn refuse(code: &str, message: &str) -> Message<'static> {
    Message::Error(Refusal {
        code: code.to_owned(),
        message: message.to_owned(),
        retry_after_ms: None,
        versions: Vec::new(),
    })
}
