//! Hand-written decoders for the payloads stations send most, in the shape they almost always
//! have. A decoder here either returns exactly what serde would have decoded, or declines
//! (`None`) and serde decodes the payload and reports what is wrong with it. It declines
//! whatever it does not handle itself: escapes in strings, `null`, numbers that are not plain
//! integers, a duplicate or unknown property, a missing required one, anything after the
//! value. The schema constraints are checked after either decoder, by the same `Validate`.

use crate::common::DateTime;
use crate::v16;
use serde::de::value::{BorrowedStrDeserializer, Error as ValueError};
use serde::Deserialize;

/// 0x01 in every byte of a word.
const ONES: u64 = u64::MAX / 255;

/// A cursor over JSON text that reads only the plain forms of strings and integers.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.at) {
            self.at += 1;
        }
        bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string without escapes or control characters, borrowed from the text.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut at = start;
        loop {
            // Eight bytes at a time while eight are left: the lowest byte that is a quote, a
            // backslash or a control character is found exactly (bytes above it may be
            // flagged falsely; they are never looked at).
            if let Some(chunk) = bytes.get(at..at + 8) {
                let word = u64::from_le_bytes(chunk.try_into().ok()?);
                let quote = word ^ (ONES * u64::from(b'"'));
                let backslash = word ^ (ONES * u64::from(b'\\'));
                let found = ((quote.wrapping_sub(ONES) & !quote)
                    | (backslash.wrapping_sub(ONES) & !backslash)
                    | (word.wrapping_sub(ONES * 0x20) & !word))
                    & (ONES << 7);
                if found == 0 {
                    at += 8;
                    continue;
                }
                at += found.trailing_zeros() as usize / 8;
            }
            match *bytes.get(at)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => at += 1,
            }
        }
        self.at = at + 1;
        // Both ends are next to an ASCII quote: character boundaries.
        self.text.get(start..at)
    }

    /// An integer written as JSON writes one (no fraction or exponent), within 18 digits.
    fn int(&mut self) -> Option<i64> {
        let negative = self.peek()? == b'-';
        if negative {
            self.at += 1;
        }
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut value: i64 = 0;
        while let Some(&digit @ b'0'..=b'9') = bytes.get(self.at) {
            // 18 digits fit an i64 whatever they are; a 19th is declined below.
            if self.at - start < 18 {
                value = value * 10 + i64::from(digit - b'0');
            }
            self.at += 1;
        }
        let digits = self.at - start;
        let leading_zero = digits > 1 && bytes[start] == b'0';
        if digits == 0 || digits > 18 || leading_zero || matches!(bytes.get(self.at), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        match (negative, value) {
            // serde_json reads `-0` as a float (it keeps the sign) and refuses it for an integer.
            (true, 0) => None,
            (true, _) => Some(-value),
            (false, _) => Some(value),
        }
    }

    /// The opening of an object or array: whether it closes at once (an empty one).
    fn open(&mut self, open: u8, close: u8) -> Option<bool> {
        self.eat(open)?;
        let empty = self.peek()? == close;
        if empty {
            self.at += 1;
        }
        Some(empty)
    }

    /// After an object's property or an array's item: whether that was the last (its closing
    /// byte follows) or another follows (a comma).
    fn last(&mut self, close: u8) -> Option<bool> {
        let next = self.peek()?;
        self.at += 1;
        match next {
            b',' => Some(false),
            _ => (next == close).then_some(true),
        }
    }

    /// An object, each property's value read by `property` (which declines unknown names).
    fn object(&mut self, mut property: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if self.open(b'{', b'}')? {
            return Some(());
        }
        loop {
            let name = self.string()?;
            self.eat(b':')?;
            property(self, name)?;
            if self.last(b'}')? {
                return Some(());
            }
        }
    }

    /// An array, each item read by `item`, with room for `expected` items from the start.
    fn list<T>(&mut self, expected: usize, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut items = Vec::with_capacity(expected);
        if self.open(b'[', b']')? {
            return Some(items);
        }
        loop {
            items.push(item(self)?);
            if self.last(b']')? {
                return Some(items);
            }
        }
    }

    /// An enumeration's value, read by serde's own derived code for its spelling.
    fn variant<T: Deserialize<'a>>(&mut self) -> Option<T> {
        T::deserialize(BorrowedStrDeserializer::<ValueError>::new(self.string()?)).ok()
    }
}

/// OCPP 1.6 MeterValues.req.
pub(crate) fn v16_meter_values(payload: &str) -> Option<v16::MeterValuesRequest> {
    let mut scan = Scan { text: payload, at: 0 };
    let (mut connector_id, mut meter_value, mut transaction_id) = (None, None, None);
    scan.object(|scan, name| {
        match name {
            "connectorId" if connector_id.is_none() => connector_id = Some(scan.int()?),
            "transactionId" if transaction_id.is_none() => transaction_id = Some(scan.int()?),
            "meterValue" if meter_value.is_none() => meter_value = Some(scan.list(1, v16_meter_value)?),
            _ => return None,
        }
        Some(())
    })?;
    if scan.peek().is_some() {
        return None;
    }
    Some(v16::MeterValuesRequest { connector_id: connector_id?, meter_value: meter_value?, transaction_id })
}

fn v16_meter_value(scan: &mut Scan<'_>) -> Option<v16::MeterValue> {
    let (mut timestamp, mut sampled_value) = (None, None);
    scan.object(|scan, name| {
        match name {
            "timestamp" if timestamp.is_none() => timestamp = Some(DateTime::parse(scan.string()?)?),
            // A station reads eight or more values at a time.
            "sampledValue" if sampled_value.is_none() => sampled_value = Some(scan.list(8, v16_sampled_value)?),
            _ => return None,
        }
        Some(())
    })?;
    Some(v16::MeterValue { sampled_value: sampled_value?, timestamp: timestamp? })
}

fn v16_sampled_value(scan: &mut Scan<'_>) -> Option<v16::SampledValue> {
    let mut value = v16::SampledValue {
        context: None,
        format: None,
        location: None,
        measurand: None,
        phase: None,
        unit: None,
        value: String::new(),
    };
    // A property seen twice falls through to the refusal, as serde refuses duplicates.
    let mut has_value = false;
    scan.object(|scan, name| {
        match name {
            "value" if !has_value => {
                value.value = scan.string()?.to_owned();
                has_value = true;
            }
            "measurand" if value.measurand.is_none() => value.measurand = Some(scan.variant()?),
            "unit" if value.unit.is_none() => value.unit = Some(scan.variant()?),
            "phase" if value.phase.is_none() => value.phase = Some(scan.variant()?),
            "context" if value.context.is_none() => value.context = Some(scan.variant()?),
            "location" if value.location.is_none() => value.location = Some(scan.variant()?),
            "format" if value.format.is_none() => value.format = Some(scan.variant()?),
            _ => return None,
        }
        Some(())
    })?;
    has_value.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loader's message and what stations commonly add or vary.
    const SEEDS: &[&str] = &[
        r#"{"connectorId":1,"transactionId":57,"meterValue":[{"timestamp":"2026-12-04T18:00:00.123Z","sampledValue":[{"value":"1250","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"7200","measurand":"Power.Active.Import","unit":"W"},{"value":"230.1","measurand":"Voltage","phase":"L1-N","unit":"V"},{"value":"10.4","measurand":"Current.Import","phase":"L1","unit":"A"}]}]}"#,
        r#"{"connectorId":2,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"value":"12.5","context":"Sample.Clock","format":"Raw","measurand":"Energy.Active.Import.Register","location":"Outlet","unit":"kWh"}]},{"sampledValue":[{"value":"42"}],"timestamp":"2026-12-04T19:00:00+01:00"}]}"#,
        "{ \"meterValue\" : [ { \"sampledValue\" : [ { \"unit\" : \"Percent\" , \"measurand\" : \"SoC\" , \"value\" : \"80\" , \"location\" : \"EV\" } ] ,\n \"timestamp\" : \"2026-12-04T18:00:00.5Z\" } ] ,\t\"connectorId\" : 0 }\r\n",
        r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[]}]}"#,
        r#"{"connectorId":-3,"meterValue":[]}"#,
        r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"value":"3","context":"Transaction.End","phase":"N","measurand":"Current.Offered","unit":"Celcius","format":"SignedData"}]}]}"#,
        r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"value":"Ünïcödé wörds, longer than sixteen bytes €"}]}]}"#,
    ];

    fn serde(payload: &str) -> Option<v16::MeterValuesRequest> {
        serde_json::from_str(payload).ok()
    }

    #[test]
    fn common_payloads_are_decoded_here_as_serde_decodes_them() {
        for seed in SEEDS {
            let fast = v16_meter_values(seed);
            assert!(fast.is_some(), "declined: {seed}");
            assert_eq!(fast, serde(seed), "{seed}");
        }
    }

    #[test]
    fn every_enumeration_value_is_read_as_serde_reads_it() {
        let mut texts = Vec::new();
        let all = |name: &str, values: Vec<&str>| {
            values.into_iter().map(|v| (name.to_string(), v.to_string())).collect::<Vec<_>>()
        };
        texts.extend(all("measurand", v16::SampledValueMeasurand::ALL.iter().map(|v| v.as_str()).collect()));
        texts.extend(all("unit", v16::SampledValueUnit::ALL.iter().map(|v| v.as_str()).collect()));
        texts.extend(all("phase", v16::SampledValuePhase::ALL.iter().map(|v| v.as_str()).collect()));
        texts.extend(all("context", v16::SampledValueContext::ALL.iter().map(|v| v.as_str()).collect()));
        texts.extend(all("location", v16::SampledValueLocation::ALL.iter().map(|v| v.as_str()).collect()));
        texts.extend(all("format", v16::SampledValueFormat::ALL.iter().map(|v| v.as_str()).collect()));
        for (name, text) in texts {
            let payload = format!(
                r#"{{"connectorId":1,"meterValue":[{{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{{"value":"1","{name}":"{text}"}}]}}]}}"#
            );
            let fast = v16_meter_values(&payload);
            assert!(fast.is_some(), "declined: {payload}");
            assert_eq!(fast, serde(&payload), "{payload}");
        }
    }

    /// What the decoder must decline (serde refuses each, or reads it in a way only serde
    /// does): it never answers for serde.
    #[test]
    fn what_it_does_not_handle_is_left_to_serde() {
        let declined = [
            r#"{"connectorId":1,"meterValue":[],"connectorId":2}"#,
            r#"{"connectorId":1,"meterValue":[],"extra":1}"#,
            r#"{"meterValue":[]}"#,
            r#"{"connectorId":1.0,"meterValue":[]}"#,
            r#"{"connectorId":1e0,"meterValue":[]}"#,
            r#"{"connectorId":01,"meterValue":[]}"#,
            r#"{"connectorId":-0,"meterValue":[]}"#,
            r#"{"connectorId":"1","meterValue":[]}"#,
            r#"{"connectorId":1,"meterValue":[],"transactionId":null}"#,
            r#"{"connectorId":1,"meterValue":[]} x"#,
            r#"{"connectorId":1,"meterValue":[],}"#,
            r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"value":"1",}]}]}"#,
            r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"value":"1","unit":"Wh","unit":"W"}]}]}"#,
            r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"val\u0075e":"1"}]}]}"#,
            r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"value":"1\n"}]}]}"#,
            "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"2026-12-04T18:00:00Z\",\"sampledValue\":[{\"value\":\"1\t\"}]}]}",
            "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"2026-12-04T18:00:00Z\",\"sampledValue\":[{\"value\":\"a long value \u{1} hidden\"}]}]}",
            r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"value":"1","unit":"kW h"}]}]}"#,
            r#"{"connectorId":1,"meterValue":[{"timestamp":"yesterday","sampledValue":[]}]}"#,
            r#"{"connectorId":1,"meterValue":[{"sampledValue":[]}]}"#,
            r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"unit":"Wh"}]}]}"#,
            r#"{"connectorId":123456789012345678901,"meterValue":[]}"#,
            r#"{"connectorId":1,"meterValue":[{"timestamp":"2026-12-04T18:00:00Z","sampledValue":[{"value":"unterminated"#,
            "[]",
            "",
        ];
        for payload in declined {
            assert_eq!(v16_meter_values(payload), None, "{payload}");
        }
    }

    /// The character boundary at or before `at`.
    fn boundary(text: &str, mut at: usize) -> usize {
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    /// Mutated payloads, seeded: whenever the decoder answers, serde answers the same.
    #[test]
    fn mutations_never_make_it_disagree_with_serde() {
        const PIECES: &[&str] = &[
            "\"",
            "\\",
            ",",
            ":",
            "{",
            "}",
            "[",
            "]",
            " ",
            "null",
            "true",
            "1",
            "-",
            "0",
            ".5",
            "e3",
            "\\u0041",
            "\"value\":\"1\"",
            "\"unit\":\"W\"",
            "\"phase\":\"L1\"",
            "\u{7f}",
            "\u{e9}",
            "\t",
            "\u{1f}",
            "\"x\":1",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut agreed, mut declined) = (0, 0);
        for round in 0..40_000 {
            let mut text = SEEDS[round % SEEDS.len()].to_string();
            // A quarter of the rounds only add whitespace, which JSON allows between tokens.
            let spaces_only = round % 4 == 0;
            for _ in 0..1 + next(3) {
                let at = boundary(&text, next(text.len() + 1));
                match if spaces_only { 3 } else { next(3) } {
                    0 => text.insert_str(at, PIECES[next(PIECES.len())]),
                    1 => {
                        let end = boundary(&text, (at + 1 + next(8)).min(text.len()));
                        text.replace_range(at..end, "");
                    }
                    3 => text.insert_str(at, [" ", "\t", "\n", "\r\n  "][next(4)]),
                    _ => {
                        let end = boundary(&text, (at + next(24)).min(text.len()));
                        let copy = text[at..end].to_string();
                        let to = boundary(&text, next(text.len() + 1));
                        text.insert_str(to, &copy);
                    }
                }
            }
            match v16_meter_values(&text) {
                Some(fast) => {
                    let serde: Result<v16::MeterValuesRequest, _> = serde_json::from_str(&text);
                    assert_eq!(Some(fast), serde.as_ref().ok().cloned(), "{text:?}: {serde:?}");
                    agreed += 1;
                }
                None => declined += 1,
            }
        }
        // Both kinds occur, or the test would not be testing the decoder.
        assert!(agreed > 1_000 && declined > 1_000, "agreed {agreed}, declined {declined}");
    }
}
