//! Time (contract §4, §5): normalizing Webim's `created_at` strings to RFC 3339 UTC with `Z`, and
//! formatting the clock (unix milliseconds, passed in by the shell) as `received_at`.
//!
//! Accepted input: `YYYY-MM-DD`, `T`/`t`/space, `HH:MM:SS`, optional `.fraction`, optional
//! spaces, then a zone `Z`/`z`, `±HH:MM` or `±HHMM`. Anything else is left alone.
//!
//! A leap second (`SS` = `60`, which RFC 3339's grammar allows) is a time like any other: it is
//! converted to UTC and keeps its `60` (`2017-01-01T02:59:60+03:00` becomes
//! `2016-12-31T23:59:60Z`). Zone offsets are whole minutes, so the second never changes in the
//! conversion. No table of leap seconds is kept: a `60` that no leap second matches is converted
//! all the same, as the grammar does not tell them apart.

const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Appends `value` (non-negative) in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut String, value: i64, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10i64.pow(place) % 10) as u8;
        out.push(char::from(b'0' + digit));
    }
}

/// Whether unix seconds fall in the years 0 to 9999, which RFC 3339 writes.
fn in_years(secs: i64) -> bool {
    (0..=9999).contains(&civil_from_days(secs.div_euclid(SECS_PER_DAY)).0)
}

/// Formats unix seconds (plus a fraction, written as given) as `YYYY-MM-DDTHH:MM:SS[.f]Z`;
/// with `leap`, `secs` is the second before the leap second, which is written as `:60`.
fn format_utc(secs: i64, fraction: &str, leap: bool) -> Option<String> {
    if !in_years(secs) {
        return None;
    }
    let (y, mo, d) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    let rem = secs.rem_euclid(SECS_PER_DAY);
    let mut out = String::with_capacity(20 + fraction.len());
    push_padded(&mut out, y, 4);
    out.push('-');
    push_padded(&mut out, mo, 2);
    out.push('-');
    push_padded(&mut out, d, 2);
    out.push('T');
    push_padded(&mut out, rem / 3600, 2);
    out.push(':');
    push_padded(&mut out, rem / 60 % 60, 2);
    out.push(':');
    push_padded(&mut out, rem % 60 + i64::from(leap), 2);
    out.push_str(fraction);
    out.push('Z');
    Some(out)
}

/// `received_at`: RFC 3339 UTC with milliseconds.
pub fn format_millis(unix_ms: u64) -> String {
    let secs = i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX / 2);
    let millis = format!(".{:03}", unix_ms % 1000);
    format_utc(secs, &millis, false).unwrap_or_else(|| "9999-12-31T23:59:59.999Z".to_string())
}

/// A fixed-width decimal field.
fn digits(s: &str, at: usize, len: usize) -> Option<i64> {
    let field = s.get(at..at + len)?;
    field
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| field.parse().ok())
        .flatten()
}

/// The zone's offset from UTC in seconds: `Z`, `±HH:MM` or `±HHMM`.
fn zone_offset(zone: &str) -> Option<i64> {
    if zone.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = match zone.len() {
        6 if zone.as_bytes()[3] == b':' => (digits(zone, 1, 2)?, digits(zone, 4, 2)?),
        5 => (digits(zone, 1, 2)?, digits(zone, 3, 2)?),
        _ => return None,
    };
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// A zoned date-time, read: unix seconds (of the second before it, for a leap second), its
/// fraction as written (`.123`, or empty) and whether it is a leap second.
struct Zoned<'a> {
    secs: i64,
    fraction: &'a str,
    leap: bool,
}

/// Reads `YYYY-MM-DD`, `T` or space, `HH:MM:SS`, an optional fraction, optional spaces and a
/// zone; `None` when `s` is not that.
fn zoned(s: &str) -> Option<Zoned<'_>> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(s, 0, 4)?, digits(s, 5, 2)?, digits(s, 8, 2)?);
    let (hour, minute, second) = (digits(s, 11, 2)?, digits(s, 14, 2)?, digits(s, 17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // A leap second is computed as the second before it, then written as `:60` again.
    let leap = second == 60;
    let rest = &s[19..];
    let fraction_len = match rest.strip_prefix('.') {
        Some(f) => {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            n + 1
        }
        None => 0,
    };
    let (fraction, zone) = rest.split_at(fraction_len);
    let offset = zone_offset(zone.trim_start_matches(' '))?;
    let local =
        days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second
            - i64::from(leap);
    Some(Zoned {
        secs: local - offset,
        fraction,
        leap,
    })
}

/// The RFC 3339 UTC form of a zoned date-time, or `None` when `s` is not one.
pub fn normalize(s: &str) -> Option<String> {
    let z = zoned(s)?;
    format_utc(z.secs, z.fraction, z.leap)
}

/// A zoned date-time as unix milliseconds (fractions past milliseconds dropped), or `None` when
/// `s` is not one, or is before 1970 or after 9999 in UTC.
pub fn parse_millis(s: &str) -> Option<u64> {
    let z = zoned(s)?;
    if !in_years(z.secs) {
        return None;
    }
    // The fraction's first three digits, as milliseconds (".1" is 100).
    let millis = z
        .fraction
        .bytes()
        .skip(1)
        .chain(*b"000")
        .take(3)
        .fold(0, |ms, digit| ms * 10 + i64::from(digit - b'0'));
    u64::try_from(z.secs.checked_mul(1000)?.checked_add(millis)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn webim_forms() {
        assert_eq!(
            normalize("2019-07-05T16:28:20 Z").as_deref(),
            Some("2019-07-05T16:28:20Z")
        );
        assert_eq!(
            normalize("2019-07-05T16:28:20Z").as_deref(),
            Some("2019-07-05T16:28:20Z")
        );
        assert_eq!(
            normalize("2019-07-05 16:28:20+03:00").as_deref(),
            Some("2019-07-05T13:28:20Z")
        );
        assert_eq!(
            normalize("2019-07-05T16:28:20.123456  +0300").as_deref(),
            Some("2019-07-05T13:28:20.123456Z")
        );
        assert_eq!(
            normalize("2019-07-05t01:00:00-02:30").as_deref(),
            Some("2019-07-05T03:30:00Z")
        );
    }

    #[test]
    fn crossing_days_months_and_leap_years() {
        assert_eq!(
            normalize("2024-03-01T01:00:00+03:00").as_deref(),
            Some("2024-02-29T22:00:00Z")
        );
        assert_eq!(
            normalize("2023-12-31T23:30:00-01:00").as_deref(),
            Some("2024-01-01T00:30:00Z")
        );
        assert_eq!(
            normalize("2024-02-29T12:00:00z").as_deref(),
            Some("2024-02-29T12:00:00Z")
        );
    }

    #[test]
    fn leap_seconds_keep_their_60() {
        assert_eq!(
            normalize("2016-12-31T23:59:60Z").as_deref(),
            Some("2016-12-31T23:59:60Z")
        );
        // The same leap second in Moscow time: the next day and year locally.
        assert_eq!(
            normalize("2017-01-01T02:59:60+03:00").as_deref(),
            Some("2016-12-31T23:59:60Z")
        );
        assert_eq!(
            normalize("2016-12-31 23:59:60.5 +03:00").as_deref(),
            Some("2016-12-31T20:59:60.5Z")
        );
        assert_eq!(
            normalize("2015-06-30t19:59:60-0400").as_deref(),
            Some("2015-06-30T23:59:60Z")
        );
        for leap in ["2016-12-31T23:59:60Z", "2016-12-31T20:59:60.5Z"] {
            assert_eq!(normalize(leap).as_deref(), Some(leap));
        }
        for bad in [
            "2016-12-31T23:59:61Z",
            "2016-12-31T23:60:00Z",
            "2016-12-31T24:00:60Z",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn anything_else_is_left_alone() {
        for s in [
            "",
            "2019-07-05T16:28:20",
            "2019-07-05",
            "2019-07-05T16:28:20 UTC",
            "2019-07-05T16:28:20+3",
            "2019-13-05T16:28:20Z",
            "2023-02-29T16:28:20Z",
            "2019-07-05T24:00:00Z",
            "2019-07-05T16:28:20.Z",
            "2019-07-05T16:28:20Z trailing",
            "0000-01-01T00:00:00+01:00",
            "１９１９-07-05T16:28:20Z",
            "1562344100",
        ] {
            assert_eq!(normalize(s), None, "{s:?}");
        }
    }

    #[test]
    fn parsed_times_read_back_as_unix_millis() {
        assert_eq!(
            parse_millis("2026-11-24T20:00:00.123Z"),
            Some(1_795_550_400_123)
        );
        assert_eq!(
            parse_millis("2026-11-24T23:00:00.1+03:00"),
            Some(1_795_550_400_100)
        );
        assert_eq!(parse_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_millis("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_millis("yesterday"), None);
        // A leap second reads as the second before it; past year 9999 in UTC is no time.
        assert_eq!(
            parse_millis("2016-12-31T23:59:60.5Z"),
            Some(1_483_228_799_500)
        );
        assert_eq!(parse_millis("9999-12-31T23:30:00-01:00"), None);
        assert_eq!(
            format_millis(parse_millis("2026-01-02T03:04:05.678Z").unwrap()),
            "2026-01-02T03:04:05.678Z"
        );
    }

    #[test]
    fn received_at_format() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_795_550_400_123), "2026-11-24T20:00:00.123Z");
    }

    proptest! {
        #[test]
        fn a_written_time_reads_back(ms in 0u64..253_402_300_800_000) {
            prop_assert_eq!(parse_millis(&format_millis(ms)), Some(ms));
        }

        #[test]
        fn civil_round_trip(days in -1_000_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn normalizing_is_idempotent_and_never_panics(s in "\\PC{0,40}|[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})? *(Z|[+-][0-9]{2}:?[0-9]{2})") {
            if let Some(once) = normalize(&s) {
                prop_assert_eq!(normalize(&once), Some(once.clone()));
            }
        }
    }
}
