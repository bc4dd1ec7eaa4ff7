//! The device model of the round tests: it holds records and a cursor and drives a round against
//! the [`MemoryRelay`] the way the module docs of `round` show, as the engine does; and a
//! `MemoryRelay` with the log id the tests expect.

use super::*;
use crate::codec::write;
use crate::error::Error;

/// A record as the relay keeps it: its dot, digest and fields (a real relay keeps the bytes).
#[derive(Debug, Clone)]
pub struct Held {
    pub dot: Dot,
    pub hlc: u64,
    pub clock: Vec<u8>,
    pub changes: Vec<u8>,
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

/// An empty relay log whose pages hold at most `page_records` records.
pub fn relay(page_records: u64) -> MemoryRelay {
    MemoryRelay::new(LogId([0xab; 16]), page_records)
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
    pub fn sync(&mut self, relay: &mut MemoryRelay) -> Run {
        let (mut round, mut step) = ClientRound::start(self.local());
        let mut run = Run {
            result: Err(Error::Internal("not finished".into())),
            progress: Vec::new(),
            pushes: 0,
        };
        for _ in 0..10_000 {
            let reply = match step {
                Step::Send(bytes) => relay.answer(&bytes).unwrap(),
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
