//! The message log is stored in blocks: one row per station per part of the log (up to
//! `BLOCK_MAX_FRAMES` frames), not one row per frame. A row per frame cost the log thread an
//! insert into the table and into the per-station index for every CALL and every answer, two
//! thirds of its CPU at 1,000 stations (BENCHMARKS.md, sixth session).
//!
//! A block's body is its frames one after another, each as
//! `direction (1 byte: b'i' in, b'o' out) · at (8 bytes, big-endian milliseconds since the Unix
//! epoch) · length (4 bytes, big-endian) · the frame's bytes`. Big-endian because SQL can write
//! it too (the migration that turned the row-per-frame log into blocks). Frame `k` of block `b`
//! has the id `b × 65,536 + k`: ids follow arrival order within a station, as they did when
//! every frame had a row, and pagination by id works across blocks.
//!
//! A body is stored LZ4-compressed when that makes it smaller (nearly always: a station's frames
//! repeat their keys and most of their values), as `b'z' · the body's length (4 bytes,
//! big-endian) · an LZ4 block`. A body stored as it is starts with a direction byte, never
//! `b'z'`, so blocks written before compression (or by the migration's SQL) read as they are.
//! Compression made the log file of a meter benchmark run 20 times smaller (398 MB to 20 MB) and
//! halved the log thread's CPU per MeterValues (BENCHMARKS.md, ninth session).

use crate::StoreError;
use csms_core::clock::Timestamp;
use csms_core::ops::{Direction, FrameLog};
use std::borrow::Cow;
use std::collections::HashMap;

/// At most this many frames in a block: a read of a station's newest frames decodes whole
/// blocks, so a busy station's second of log is cut into blocks of this size.
pub(crate) const BLOCK_MAX_FRAMES: usize = 1024;

/// Frame ids within a block: `block id << FRAME_BITS | place in the block`.
const FRAME_BITS: u32 = 16;
const _: () = assert!(BLOCK_MAX_FRAMES <= 1 << FRAME_BITS);

/// The bytes before each frame in a body.
const HEADER: usize = 1 + 8 + 4;

/// The first byte of a compressed body, then the body's length.
const COMPRESSED: u8 = b'z';
const COMPRESSED_HEADER: usize = 1 + 4;
/// A compressed body that claims to be longer than this is damaged: a part of the log is cut at
/// 32 MiB (`LOG_MAX_BYTES`), and a block holds at most that part.
const MAX_BODY: usize = 256 << 20;

/// One block of a station's frames, ready to insert.
#[derive(Debug)]
pub(crate) struct Block<'a> {
    pub station_id: &'a str,
    pub frames: i64,
    /// The newest frame's time (pruning by age removes a block once it is older).
    pub last_at: Timestamp,
    pub body: Vec<u8>,
}

/// Packs frames into blocks, keeping its working buffers from one flush of the log to the
/// next: a flush's bodies were grown frame by frame and dropped after compression, and with
/// every flush their pages were faulted in afresh (half of the log thread's CPU in the meter
/// benchmark). Buffers that a burst made larger than `KEEP_BYTES` are let go.
#[derive(Default)]
pub(crate) struct Packer {
    /// A block's frames as stored uncompressed.
    body: Vec<u8>,
    /// LZ4's output; only ever grows (within `KEEP_BYTES`), so it is zeroed once.
    scratch: Vec<u8>,
    /// Frame indices grouped by block, and where each block's run ends.
    order: Vec<u32>,
    ends: Vec<u32>,
}

/// The most each of a packer's buffers keeps between flushes.
const KEEP_BYTES: usize = 4 << 20;

impl Packer {
    /// Groups frames into blocks by station, each station's frames in the order given; a
    /// station's blocks come in that order too, so they get ascending ids when inserted in order.
    pub(crate) fn blocks<'a>(&mut self, frames: &'a [FrameLog]) -> Vec<Block<'a>> {
        let mut blocks: Vec<Block<'a>> = Vec::new();
        let mut open: HashMap<&str, usize> = HashMap::new();
        // Frames come in runs of one station (a CALL and its answer): the last one's block is
        // found without hashing.
        let mut last: Option<(&str, usize)> = None;
        let mut block_of_frame = Vec::with_capacity(frames.len());
        for f in frames {
            let station = f.station_id.as_str();
            let found = match last {
                Some((s, at)) if s == station => Some(at),
                _ => open.get(station).copied(),
            };
            let at = match found {
                Some(at) if (blocks[at].frames as usize) < BLOCK_MAX_FRAMES => at,
                _ => {
                    open.insert(station, blocks.len());
                    blocks.push(Block { station_id: station, frames: 0, last_at: f.at, body: Vec::new() });
                    blocks.len() - 1
                }
            };
            last = Some((station, at));
            let block = &mut blocks[at];
            block.frames += 1;
            block.last_at = block.last_at.max(f.at);
            block_of_frame.push(at as u32);
        }
        // Frame indices by block, each block's in arrival order (a counting sort): `ends` starts
        // at each block's first place in `order` and is moved past each frame put there.
        self.ends.clear();
        let mut next = 0u32;
        for block in &blocks {
            self.ends.push(next);
            next += block.frames as u32;
        }
        self.order.clear();
        self.order.resize(frames.len(), 0);
        for (i, &at) in block_of_frame.iter().enumerate() {
            let end = &mut self.ends[at as usize];
            self.order[*end as usize] = i as u32;
            *end += 1;
        }
        for (block, &end) in blocks.iter_mut().zip(&self.ends) {
            let members = &self.order[end as usize - block.frames as usize..end as usize];
            // Kept from block to block and flush to flush: it grows to the largest block once.
            self.body.clear();
            for &i in members {
                let f = &frames[i as usize];
                self.body.push(match f.direction {
                    Direction::In => b'i',
                    Direction::Out => b'o',
                });
                self.body.extend_from_slice(&f.at.timestamp_millis().to_be_bytes());
                self.body.extend_from_slice(&(f.frame.len() as u32).to_be_bytes());
                self.body.extend_from_slice(f.frame.as_bytes());
            }
            block.body = compress(&self.body, &mut self.scratch).unwrap_or_else(|| self.body.clone());
        }
        for buffer in [&mut self.body, &mut self.scratch] {
            if buffer.capacity() > KEEP_BYTES {
                *buffer = Vec::new();
            }
        }
        if self.order.capacity() * 4 > KEEP_BYTES {
            self.order = Vec::new();
        }
        blocks
    }
}

/// `body` compressed, unless that would not make it smaller. `scratch` is reused between calls
/// and only grows, so its bytes are zeroed once.
fn compress(body: &[u8], scratch: &mut Vec<u8>) -> Option<Vec<u8>> {
    let length = u32::try_from(body.len()).ok()?;
    let room = COMPRESSED_HEADER + lz4_flex::block::get_maximum_output_size(body.len());
    if scratch.len() < room {
        scratch.resize(room, 0);
    }
    let written = lz4_flex::block::compress_into(body, &mut scratch[COMPRESSED_HEADER..room]).ok()?;
    let stored = COMPRESSED_HEADER + written;
    if stored >= body.len() {
        return None;
    }
    scratch[0] = COMPRESSED;
    scratch[1..COMPRESSED_HEADER].copy_from_slice(&length.to_be_bytes());
    Some(scratch[..stored].to_vec())
}

/// A block's body as `decode` reads it: a stored body, decompressed if it was compressed.
pub(crate) fn unpack(stored: &[u8]) -> Result<Cow<'_, [u8]>, StoreError> {
    if stored.first() != Some(&COMPRESSED) {
        return Ok(Cow::Borrowed(stored));
    }
    let corrupt = |what: &str| StoreError::Corrupt(format!("message log block: {what}"));
    let (header, packed) = stored.split_at_checked(COMPRESSED_HEADER).ok_or_else(|| corrupt("truncated length"))?;
    let length = u32::from_be_bytes(header[1..].try_into().map_err(|_| corrupt("length"))?) as usize;
    if length > MAX_BODY {
        return Err(corrupt("implausible length"));
    }
    let body = lz4_flex::block::decompress(packed, length).map_err(|e| corrupt(&format!("decompression: {e}")))?;
    if body.len() != length {
        return Err(corrupt("length differs from the stored one"));
    }
    Ok(Cow::Owned(body))
}

/// The id of frame `place` of block `block`.
pub(crate) fn frame_id(block: i64, place: usize) -> i64 {
    block << FRAME_BITS | place as i64
}

/// The block that holds frame `id`.
pub(crate) fn block_of(id: i64) -> i64 {
    id >> FRAME_BITS
}

/// One frame read back from a block.
#[derive(Debug, PartialEq)]
pub(crate) struct Decoded<'a> {
    pub direction: Direction,
    pub at: Timestamp,
    pub frame: &'a str,
}

/// A block's frames, in the order they were logged, from its body (`unpack`).
pub(crate) fn decode(body: &[u8]) -> Result<Vec<Decoded<'_>>, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("message log block: {what}"));
    let mut frames = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (header, tail) = rest.split_at_checked(HEADER).ok_or_else(|| corrupt("truncated header"))?;
        let direction = match header[0] {
            b'i' => Direction::In,
            b'o' => Direction::Out,
            _ => return Err(corrupt("unknown direction")),
        };
        let millis = i64::from_be_bytes(header[1..9].try_into().map_err(|_| corrupt("time"))?);
        let at = chrono::DateTime::from_timestamp_millis(millis).ok_or_else(|| corrupt("time out of range"))?;
        let len = u32::from_be_bytes(header[9..13].try_into().map_err(|_| corrupt("length"))?) as usize;
        let (frame, tail) = tail.split_at_checked(len).ok_or_else(|| corrupt("truncated frame"))?;
        let frame = std::str::from_utf8(frame).map_err(|_| corrupt("frame is not UTF-8"))?;
        frames.push(Decoded { direction, at, frame });
        rest = tail;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn blocks(frames: &[FrameLog]) -> Vec<Block<'_>> {
        Packer::default().blocks(frames)
    }

    fn station_id(text: &str) -> csms_core::station::StationId {
        csms_core::station::StationId::parse(text).expect("a valid station id")
    }

    fn frame(station: &str, direction: Direction, second: u32, text: &str) -> FrameLog {
        FrameLog {
            station_id: station_id(station),
            direction,
            at: chrono::Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, second).single().expect("valid")
                + chrono::Duration::milliseconds(7),
            frame: text.into(),
        }
    }

    #[test]
    fn frames_are_grouped_by_station_in_order_and_read_back() {
        let frames = vec![
            frame("A", Direction::In, 1, r#"[2,"1","Heartbeat",{}]"#),
            frame("B", Direction::In, 2, "not json at all: ünïcode"),
            frame("A", Direction::Out, 3, r#"[3,"1",{"currentTime":"x"}]"#),
            frame("A", Direction::In, 4, ""),
        ];
        let blocks = blocks(&frames);
        assert_eq!(blocks.iter().map(|b| (b.station_id, b.frames)).collect::<Vec<_>>(), [("A", 3), ("B", 1)]);
        assert_eq!(blocks[0].last_at, frames[3].at);
        let body = unpack(&blocks[0].body).expect("unpacks");
        let a = decode(&body).expect("decodes");
        let expected: Vec<Decoded<'_>> = [&frames[0], &frames[2], &frames[3]]
            .iter()
            .map(|f| Decoded { direction: f.direction, at: f.at, frame: &f.frame })
            .collect();
        assert_eq!(a, expected);
        assert_eq!(decode(&unpack(&blocks[1].body).expect("unpacks")).expect("decodes")[0].frame, frames[1].frame);
    }

    #[test]
    fn a_busy_station_fills_several_blocks() {
        let frames: Vec<FrameLog> =
            (0..BLOCK_MAX_FRAMES * 2 + 1).map(|i| frame("A", Direction::In, 0, &i.to_string())).collect();
        let blocks = blocks(&frames);
        assert_eq!(blocks.iter().map(|b| b.frames).collect::<Vec<_>>(), [1024, 1024, 1]);
        let last = unpack(&blocks[2].body).expect("unpacks");
        assert_eq!(decode(&last).expect("decodes")[0].frame, (BLOCK_MAX_FRAMES * 2).to_string());
    }

    fn meter_values(n: usize) -> Vec<FrameLog> {
        (0..n)
            .map(|i| {
                let text = format!(
                    r#"[2,"{i}","MeterValues",{{"connectorId":1,"meterValue":[{{"timestamp":"2026-12-01T12:00:{:02}Z","sampledValue":[{{"value":"{}","measurand":"Energy.Active.Import.Register","unit":"Wh"}}]}}]}}]"#,
                    i % 60,
                    1000 + i * 7
                );
                frame("A", if i % 2 == 0 { Direction::In } else { Direction::Out }, (i % 60) as u32, &text)
            })
            .collect()
    }

    #[test]
    fn a_block_is_stored_compressed_when_that_is_smaller_and_reads_back() {
        let frames = meter_values(300);
        let raw: usize = frames.iter().map(|f| HEADER + f.frame.len()).sum();
        let block = blocks(&frames).remove(0);
        assert_eq!(block.body[0], COMPRESSED);
        assert!(block.body.len() * 4 < raw, "{} bytes stored for {raw}", block.body.len());
        let body = unpack(&block.body).expect("unpacks");
        assert_eq!(body.len(), raw);
        let read: Vec<(Direction, Timestamp, &str)> =
            decode(&body).expect("decodes").into_iter().map(|d| (d.direction, d.at, d.frame)).collect();
        let logged: Vec<(Direction, Timestamp, &str)> =
            frames.iter().map(|f| (f.direction, f.at, f.frame.as_str())).collect();
        assert_eq!(read, logged);
    }

    /// A flush's blocks of every size (one past 64 KiB, where LZ4's hash table needs 32-bit
    /// entries, between small ones) each read back as they were.
    #[test]
    fn blocks_of_every_size_in_one_flush_read_back() {
        let mut frames = Vec::new();
        for (station, n) in [("A", 20), ("B", 1000), ("C", 20), ("D", 300)] {
            frames.extend(meter_values(n).into_iter().map(|mut f| {
                f.station_id = station_id(station);
                f
            }));
        }
        let blocks = blocks(&frames);
        assert!(unpack(&blocks[1].body).expect("unpacks").len() > 64 << 10, "B's block is past 64 KiB");
        for (block, station) in blocks.iter().zip(["A", "B", "C", "D"]) {
            assert_eq!(block.body[0], COMPRESSED, "{station}");
            let body = unpack(&block.body).expect("unpacks");
            let read: Vec<&str> = decode(&body).expect("decodes").into_iter().map(|d| d.frame).collect();
            let logged: Vec<&str> =
                frames.iter().filter(|f| f.station_id.as_str() == station).map(|f| f.frame.as_str()).collect();
            assert_eq!(read, logged, "{station}");
        }
    }

    /// A packer keeps its buffers from flush to flush: what a larger flush left in them must
    /// not leak into a smaller one's blocks, compressed or not.
    #[test]
    fn a_reused_packer_packs_as_a_fresh_one() {
        let mut big = meter_values(1500);
        big.extend(meter_values(40).into_iter().map(|mut f| {
            f.station_id = station_id("B");
            f
        }));
        let flushes =
            [big, vec![frame("C", Direction::In, 1, r#"[2,"9","Heartbeat",{}]"#)], meter_values(7), Vec::new()];
        let mut packer = Packer::default();
        for frames in &flushes {
            let reused: Vec<(&str, i64, Timestamp, Vec<u8>)> =
                packer.blocks(frames).into_iter().map(|b| (b.station_id, b.frames, b.last_at, b.body)).collect();
            let fresh: Vec<(&str, i64, Timestamp, Vec<u8>)> =
                blocks(frames).into_iter().map(|b| (b.station_id, b.frames, b.last_at, b.body)).collect();
            assert_eq!(reused, fresh);
            let frames_read: usize =
                reused.iter().map(|b| decode(&unpack(&b.3).expect("unpacks")).expect("decodes").len()).sum();
            assert_eq!(frames_read, frames.len());
        }
    }

    #[test]
    fn a_body_that_compression_would_not_shrink_is_stored_as_it_is() {
        let body = blocks(&[frame("A", Direction::In, 0, r#"[2,"1","Heartbeat",{}]"#)]).remove(0).body;
        assert_eq!(body[0], b'i');
        assert!(matches!(unpack(&body).expect("unpacks"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_damaged_compressed_block_is_an_error_not_a_panic() {
        let stored = blocks(&meter_values(50)).remove(0).body;
        assert_eq!(stored[0], COMPRESSED);
        for cut in 1..stored.len() {
            assert!(unpack(&stored[..cut]).and_then(|body| decode(&body).map(|_| ())).is_err(), "cut at {cut}");
        }
        for length in [0u32, 17, u32::MAX] {
            let mut wrong = stored.clone();
            wrong[1..COMPRESSED_HEADER].copy_from_slice(&length.to_be_bytes());
            assert!(unpack(&wrong).is_err(), "length {length}");
        }
    }

    #[test]
    fn ids_name_a_block_and_a_place_in_it() {
        let id = frame_id(77, BLOCK_MAX_FRAMES - 1);
        assert_eq!(block_of(id), 77);
        assert!(frame_id(77, BLOCK_MAX_FRAMES - 1) < frame_id(78, 0));
    }

    #[test]
    fn a_damaged_block_is_an_error_not_a_panic() {
        let body = blocks(&[frame("A", Direction::In, 0, "hello")]).remove(0).body;
        for cut in 1..body.len() {
            assert!(decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong = body.clone();
        wrong[0] = b'x';
        assert!(decode(&wrong).is_err());
    }
}
