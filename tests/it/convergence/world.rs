//! The simulated network: the replicas, the bundles held in transit between them, the relays they
//! sync through (in-memory relays over one space: small pages on one, large on the other), how each
//! operation of a schedule runs, and settling (delivering everything, then exchanging until no
//! bundle changes anything). Every failure comes back as a message for the property to report.

use sqlite_sync_wasm::bundle::{self, BundleBody};
use sqlite_sync_wasm::engine::Action;
use sqlite_sync_wasm::protocol::{LogId, MemoryRelay};
use sqlite_sync_wasm::{ConflictId, ConflictStrategy, Engine, ErrorCode, Params};

use super::replicas::{ReplicaPlan, ResolverRule};
use super::resolution::{resolve_all, resolve_one, run_resolver};
use super::vocabulary::{Delivery, Op, Write, RELAYS};

/// Full exchange rounds settling may take; a world still changing after them has not converged.
pub const MAX_SETTLE_ROUNDS: usize = 12;

/// Replicas and the bundles in transit between them.
pub struct World {
    replicas: Vec<Replica>,
    /// Bundles delayed by `Delivery::Later`, with their destination, oldest first.
    in_transit: Vec<(usize, Vec<u8>)>,
    relays: Vec<MemoryRelay>,
    /// Logs the relays have started, for each new one's id.
    logs: u8,
}

/// The most records a page holds, per relay.
const PAGE_RECORDS: [u64; RELAYS] = [2, 1_000];

struct Replica {
    db: Engine,
    resolver: Option<ResolverRule>,
}

impl World {
    pub fn new(plans: &[ReplicaPlan], strategy: ConflictStrategy) -> World {
        World {
            replicas: plans
                .iter()
                .map(|plan| Replica {
                    db: plan.open(strategy),
                    resolver: plan.resolver,
                })
                .collect(),
            in_transit: Vec::new(),
            relays: (0..RELAYS)
                .map(|relay| MemoryRelay::new(LogId([relay as u8; 16]), PAGE_RECORDS[relay]))
                .collect(),
            logs: RELAYS as u8,
        }
    }

    pub fn databases(&mut self) -> impl Iterator<Item = &mut Engine> {
        self.replicas.iter_mut().map(|replica| &mut replica.db)
    }

    pub fn run(&mut self, op: &Op) -> Result<(), String> {
        match op {
            Op::Write { at, write } => self.write(*at, write),
            Op::Transaction { at, writes, commit } => {
                self.statement(*at, "BEGIN")?;
                for write in writes {
                    self.write(*at, write)?;
                }
                self.statement(*at, if *commit { "COMMIT" } else { "ROLLBACK" })
            }
            Op::ThreeWay { at, edits } => at
                .iter()
                .zip(edits)
                .try_for_each(|(at, edit)| self.write(*at, edit)),
            Op::Send { from, to, delivery } => self.send(*from, *to, *delivery),
            Op::Resolve { at, pick, choice } => {
                resolve_one(&mut self.replicas[*at].db, *pick, *choice)
                    .map(|_| ())
                    .map_err(|e| format!("replica {at}: {e}"))
            }
            Op::ResolveAll { at, choice } => resolve_all(&mut self.replicas[*at].db, *choice)
                .map_err(|e| format!("replica {at}: {e}")),
            Op::Round {
                at,
                relay,
                messages,
            } => self.round(*at, *relay, *messages),
            Op::RelayLost { relay } => {
                self.logs = self.logs.wrapping_add(1);
                self.relays[*relay] =
                    MemoryRelay::new(LogId([self.logs; 16]), PAGE_RECORDS[*relay]);
                Ok(())
            }
        }
    }

    /// One sync round of `at` with relay `relay`, cut after `messages` answers when given; the
    /// replica's resolver sees the conflicts of every page it applied, even in a cut round.
    fn round(&mut self, at: usize, relay: usize, messages: Option<u8>) -> Result<(), String> {
        let replica = &mut self.replicas[at];
        let url = format!("memory://relay-{relay}");
        let (mut round, mut action) = replica
            .db
            .begin_round(&url, "space")
            .map_err(|e| format!("replica {at}: begin_round: {e}"))?;
        let mut answered = 0;
        let mut created: Vec<ConflictId> = Vec::new();
        while let Action::Send(bytes) = &action {
            if messages.is_some_and(|most| answered >= most) {
                break;
            }
            answered += 1;
            let reply = self.relays[relay]
                .answer(bytes)
                .map_err(|e| format!("relay {relay}: {e}"))?;
            action = replica.db.continue_round(&mut round, &reply).map_err(|e| {
                format!(
                    "replica {at}, round with relay {relay}: {:?}: {e}",
                    e.code()
                )
            })?;
        }
        created.extend(round.take_new_conflicts());
        match action {
            Action::Done(report) => created.extend(report.new_conflicts),
            Action::Wait => return Err("a round waits, but the memory relay answers all".into()),
            Action::Send(_) => {}
        }
        if let Some(rule) = replica.resolver {
            run_resolver(&mut replica.db, rule, &created)
                .map_err(|e| format!("replica {at}'s resolver: {e}"))?;
        }
        Ok(())
    }

    /// Delivers everything in transit, then lets every replica send to every other, round after
    /// round, until a whole round changes nothing.
    pub fn settle(&mut self) -> Result<(), String> {
        for (to, bundle) in std::mem::take(&mut self.in_transit) {
            self.deliver(to, &bundle)?;
        }
        let count = self.replicas.len();
        for _round in 0..MAX_SETTLE_ROUNDS {
            let mut changed = false;
            for from in 0..count {
                for to in (0..count).filter(|to| *to != from) {
                    if let Some(bundle) = self.bundle(from, to)? {
                        changed |= self.deliver(to, &bundle)?;
                    }
                }
            }
            if !changed {
                return Ok(());
            }
        }
        Err(format!(
            "still changing after {MAX_SETTLE_ROUNDS} full exchange rounds"
        ))
    }

    /// Runs an app's write. SQL errors (a key move onto a taken key) are part of the exercise;
    /// any other error is not.
    fn write(&mut self, at: usize, write: &Write) -> Result<(), String> {
        let (sql, params) = write.statement();
        match self.replicas[at]
            .db
            .execute(sql, &Params::Positional(params))
        {
            Err(e) if e.code() != ErrorCode::Sql => Err(format!(
                "replica {at}: {write:?} failed: {:?}: {e}",
                e.code()
            )),
            _ => Ok(()),
        }
    }

    fn statement(&mut self, at: usize, sql: &str) -> Result<(), String> {
        self.replicas[at]
            .db
            .execute(sql, &Params::None)
            .map(|_| ())
            .map_err(|e| format!("replica {at}: {sql} failed: {e}"))
    }

    fn send(&mut self, from: usize, to: usize, delivery: Delivery) -> Result<(), String> {
        if from == to {
            return Ok(());
        }
        let Some(bundle) = self.bundle(from, to)? else {
            return Ok(());
        };
        match delivery {
            Delivery::Now => {
                self.deliver(to, &bundle)?;
            }
            Delivery::Drop => {}
            Delivery::Twice => {
                self.deliver(to, &bundle)?;
                self.deliver(to, &bundle)?;
            }
            Delivery::Later => self.in_transit.push((to, bundle)),
            Delivery::Split => {
                let body = bundle::decode(&bundle).map_err(|e| format!("decode: {e}"))?;
                let (first, second) = body.records.split_at(body.records.len() / 2);
                for part in [second, first] {
                    let piece = BundleBody {
                        records: part.to_vec(),
                        ..body.clone()
                    };
                    let piece = bundle::encode(&piece).map_err(|e| format!("encode: {e}"))?;
                    self.deliver(to, &piece)?;
                }
            }
        }
        if matches!(delivery, Delivery::Now | Delivery::Twice) && !self.in_transit.is_empty() {
            let (late_to, late) = self.in_transit.remove(0);
            self.deliver(late_to, &late)?;
        }
        Ok(())
    }

    fn bundle(&mut self, from: usize, to: usize) -> Result<Option<Vec<u8>>, String> {
        let peer = self.replicas[to].db.device_id();
        self.replicas[from]
            .db
            .generate_bundle(Some(&peer))
            .map_err(|e| format!("replica {from}: generate_bundle for replica {to}: {e}"))
    }

    /// Imports a bundle at `to` and runs its custom resolver; true when anything changed there.
    fn deliver(&mut self, to: usize, bundle: &[u8]) -> Result<bool, String> {
        let replica = &mut self.replicas[to];
        let outcome = replica
            .db
            .import_bundle(bundle)
            .map_err(|e| format!("replica {to} refused a valid bundle: {:?}: {e}", e.code()))?;
        let resolved = match replica.resolver {
            Some(rule) => run_resolver(&mut replica.db, rule, &outcome.new_conflicts)
                .map_err(|e| format!("replica {to}'s resolver: {e}"))?,
            None => 0,
        };
        Ok(outcome.applied + outcome.released + outcome.conflicts > 0 || resolved > 0)
    }
}
