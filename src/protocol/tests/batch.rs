//! Page bounds: a batch stops at whichever of its record and byte bounds comes first, always takes
//! its first record up to the message limit, and refuses a record no message can carry.

use super::*;
use crate::error::ErrorCode;
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Offers records of `size` change-set bytes (origin 1, seq 1, 2, …) until the batch is full;
/// returns how many it took.
fn fill(batch: &mut Batch, size: usize, offers: u64) -> u64 {
    let changes = vec![7u8; size];
    for seq in 1..=offers {
        if !batch
            .offer(Dot::new(device(1), seq), HLC, &[0x80], &changes)
            .unwrap()
        {
            return seq - 1;
        }
    }
    offers
}

fn records_of(message: &[u8]) -> usize {
    match decode(message).unwrap() {
        Message::Push(records) => records.len(),
        Message::Page(page) => page.records.len(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_batch_of_small_records_stops_at_the_record_bound() {
    let mut batch = Batch::default();
    assert_eq!(fill(&mut batch, 10, 5_000), MAX_RECORDS as u64);
    let size = batch.size();
    let message = batch.into_page(1_000, 4_000, false);
    assert!(message.len() <= size);
    assert_eq!(records_of(&message), MAX_RECORDS);
}

#[test]
fn a_batch_of_large_records_stops_at_the_byte_bound() {
    let mut batch = Batch::default();
    let taken = fill(&mut batch, 100_000, 100);
    assert_eq!(taken, 8);
    let message = batch.into_push();
    assert!(message.len() <= MAX_BATCH_BYTES);
    assert!(message.len() + 100_100 > MAX_BATCH_BYTES);
    assert_eq!(records_of(&message), 8);
}

#[test]
fn a_record_larger_than_a_page_travels_alone() {
    let mut batch = Batch::default();
    assert_eq!(fill(&mut batch, 2_000_000, 3), 1);
    let message = batch.into_push();
    assert!(message.len() > MAX_BATCH_BYTES);
    assert_eq!(records_of(&message), 1);
    // After small ones, it waits for the next batch.
    let mut batch = Batch::default();
    assert_eq!(fill(&mut batch, 10, 3), 3);
    let big = vec![0u8; 2_000_000];
    assert!(!batch
        .offer(Dot::new(device(1), 4), 1, &[0x80], &big)
        .unwrap());
}

#[test]
fn a_record_no_message_can_carry_is_refused_as_too_large() {
    let huge = vec![0u8; MAX_MESSAGE_BYTES];
    let dot = Dot::new(device(1), 1);
    let error = Batch::default().offer(dot, 1, &[0x80], &huge).unwrap_err();
    assert_eq!(error.code(), ErrorCode::TooLarge);
    assert!(error.to_string().contains(&dot.to_string()));
    let mut batch = Batch::default();
    fill(&mut batch, 10, 1);
    assert!(!batch.offer(dot, 1, &[0x80], &huge).unwrap());
    // Just under the limit, a message is made, and read back.
    let fits = vec![0u8; MAX_MESSAGE_BYTES - 100];
    let mut batch = Batch::default();
    assert!(batch.offer(dot, 1, &[0x80], &fits).unwrap());
    let message = batch.into_page(1, 0, true);
    assert!(message.len() <= MAX_MESSAGE_BYTES);
    assert_eq!(records_of(&message), 1);
}

#[test]
fn limits_are_clamped_to_the_protocol_bounds() {
    let mut batch = Batch::new(0, 0);
    assert_eq!(fill(&mut batch, 10, 10), 1);
    let mut batch = Batch::new(u64::MAX, u64::MAX);
    assert_eq!(fill(&mut batch, 10, 5_000), MAX_RECORDS as u64);
    let mut batch = Batch::new(3, u64::MAX);
    assert_eq!(fill(&mut batch, 10, 10), 3);
}

#[test]
fn an_empty_batch_makes_an_empty_push_and_the_caught_up_page() {
    assert_eq!(Batch::default().into_push(), [0x93, 0x01, 0x03, 0x90]);
    assert_eq!(
        Batch::default().into_page(7, 0, true),
        [0x96, 0x01, 0x06, 0x90, 0x07, 0x00, 0xc3]
    );
}
