//! Models for the round tests. The relay model follows the relay's rules of the module docs over
//! one in-memory space, answering with the crate's own encoder: no tokens and no storage, its only
//! job is to answer the way a relay must, so the device's round is tested against the documented
//! exchange. The device model holds records and a cursor and drives a round the way the module
//! docs of `round` show, as the engine will.

use super::*;
use crate::bundle::digest::RecordDigest;
use crate::codec::write;
use crate::error::Error;

/// A record as the relay keeps it: its dot, digest and fields (a real relay keeps the bytes).
#[derive(Debug, Clone)]
pub struct Held {
    pub dot: Dot,
    pub hlc: u64,
    pub clock: Vec<u8>,
    pub changes: Vec<u8>,
    pub digest: RecordDigest,
}

impl Held {
    pub fn of(record: &Record<'_>) -> Held {
        let mut clock = Vec::new();
        write::clock(&mut clock, &record.clock);
        Held {
            dot: record.dot,
            hlc: record.hlc,
            clock,
            changes: record.changes.to_vec(),
            digest: record.digest,
        }
    }

    /// A record of `origin` with some change-set bytes.
    pub fn new(origin: u8, seq: u64, size: usize) -> Held {
        let changes = vec![seq as u8; size];
        Held::of(&record(
            origin,
            seq,
            HLC + seq,
            VectorClock::new(),
            &changes,
        ))
    }
}

pub struct Relay {
    pub log: LogId,
    /// The space's log: position `i + 1` holds `records[i]`.
    pub records: Vec<Held>,
    /// The most records it puts in a page.
    pub page_records: u64,
    /// How many pushes it has stored.
    pub pushes: usize,
}

impl Relay {
    pub fn new(page_records: u64) -> Relay {
        Relay {
            log: LogId([0xab; 16]),
            records: Vec::new(),
            page_records,
            pushes: 0,
        }
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

    /// The answer to one message.
    pub fn answer(&mut self, bytes: &[u8]) -> Vec<u8> {
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
        encode(&answer).unwrap()
    }

    fn store(&mut self, records: &[Record<'_>]) -> Message<'static> {
        for record in records {
            let held = self.records.iter().find(|h| h.dot == record.dot);
            if held.is_some_and(|h| h.digest != record.digest) {
                return refuse("ERR_RECORD_MISMATCH", &record.dot.to_string());
            }
        }
        for record in records {
            if !self.records.iter().any(|h| h.dot == record.dot) {
                self.records.push(Held::of(record));
            }
        }
        self.pushes += 1;
        Message::Pushed(self.clock())
    }

    fn page(&self, pull: Pull) -> Vec<u8> {
        let limit = pull.max_records.min(self.page_records);
        let mut batch = Batch::new(limit, pull.max_bytes.min(MAX_BATCH_BYTES as u64));
        let after = pull.after.min(self.records.len() as u64);
        for held in &self.records[after as usize..] {
            let taken = batch.offer(held.dot, held.hlc, &held.clock, &held.changes);
            if !taken.unwrap() {
                break;
            }
        }
        let next = after + batch.len() as u64;
        let remaining = self.records.len() as u64 - next;
        batch.into_page(next.max(pull.after), remaining, remaining == 0)
    }
}

pub fn refuse(code: &str, message: &str) -> Message<'static> {
    Message::Error(refusal(code, message, None, &[]))
}

/// A device model: the records it holds and its saved cursor.
pub struct Device {
    pub id: DeviceId,
    pub held: Vec<Held>,
    pub cursor: Option<Cursor>,
}

/// What one round did, seen from outside.
#[derive(Debug)]
pub struct Run {
    pub result: Result<Summary, Error>,
    pub progress: Vec<Progress>,
    pub pushes: usize,
}

impl Device {
    pub fn new(id: u8, records: u64, size: usize) -> Device {
        Device {
            id: device(id),
            held: (1..=records).map(|seq| Held::new(id, seq, size)).collect(),
            cursor: None,
        }
    }

    pub fn clock(&self) -> VectorClock {
        self.held
            .iter()
            .map(|h| (h.dot.origin, h.dot.seq))
            .collect()
    }

    pub fn local(&self) -> Local {
        Local {
            device: self.id,
            space: "space".into(),
            clock: self.clock(),
            cursor: self.cursor,
        }
    }

    /// Fills a batch the way the engine will: each wanted origin's records after the given
    /// sequence number, in order, until the batch is full.
    pub fn collect(&self, wanted: &[(DeviceId, u64)]) -> Batch {
        let mut batch = Batch::default();
        for (origin, after) in wanted {
            let mut mine: Vec<&Held> = self
                .held
                .iter()
                .filter(|h| h.dot.origin == *origin && h.dot.seq > *after)
                .collect();
            mine.sort_by_key(|h| h.dot.seq);
            for h in mine {
                if !batch.offer(h.dot, h.hlc, &h.clock, &h.changes).unwrap() {
                    return batch;
                }
            }
        }
        batch
    }

    pub fn import(&mut self, delivery: Delivery<'_>) {
        for record in &delivery.records {
            if !self.held.iter().any(|h| h.dot == record.dot) {
                self.held.push(Held::of(record));
            }
        }
        self.cursor = Some(delivery.cursor);
    }

    /// One round against `relay`, driven as the module docs of `round` show.
    pub fn sync(&mut self, relay: &mut Relay) -> Run {
        let (mut round, mut step) = ClientRound::start(self.local());
        let mut run = Run {
            result: Err(Error::Internal("not finished".into())),
            progress: Vec::new(),
            pushes: 0,
        };
        for _ in 0..10_000 {
            let reply = match step {
                Step::Send(bytes) => relay.answer(&bytes),
                Step::Collect(wanted) => {
                    let batch = self.collect(&wanted);
                    run.pushes += usize::from(!batch.is_empty());
                    step = round.push(batch);
                    continue;
                }
                Step::Wait => panic!("the relay model answers every message"),
                Step::Done(summary) => {
                    self.cursor = Some(summary.cursor);
                    run.result = Ok(summary);
                    return run;
                }
                Step::Fail(error) => {
                    run.result = Err(error);
                    return run;
                }
            };
            step = match round.on_message(decode(&reply).unwrap()) {
                Next::Apply(delivery) => {
                    run.progress.push(delivery.progress);
                    self.import(delivery);
                    round.applied()
                }
                Next::Step(step) => step,
            };
        }
        panic!("the round did not end")
    }
}
