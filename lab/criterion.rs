//! `cargo bench`: the pure core per stage and whole, for chats of 1 KB, 4 KB, 64 KB and 1 MB,
//! next to HMAC-SHA256 alone over the same bytes (the floor of the verify step).
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use webim_edge::logic::clean_chat as clean;
use webim_edge::logic::event::{Event, EventType};
use webim_edge::logic::hashing::RustCrypto;
use webim_edge::logic::settings::Settings;
use webim_edge::logic::webim_signature::{self as signature, Scheme};
use webim_edge::logic::{intake as pipeline, params};

const KEY: &str = "bench-private-key";
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// A realistic chat of at least `size` bytes: Cyrillic and emoji text, URLs with credentials,
/// Webim's odd timestamps.
fn chat_of_size(size: usize) -> String {
    let mut chat = serde_json::json!({
        "id": 190425,
        "created_at": "2019-07-05 19:28:20+03:00",
        "locale": "ru",
        "start_page": {"url": "https://crm:secret@shop.example.ru/checkout"},
        "visitor": {"id": "6a1f", "fields": {"name": "Анна", "email": "anna@example.ru"}},
        "operator": {"id": 17, "email": "op@example.com", "name": "Иван"},
        "messages": [],
    });
    // Messages are added until the text is long enough, counting their length as they go,
    // so that building a 1 MB chat serializes it once.
    let mut len = chat.to_string().len();
    let mut i = 0;
    while len < size {
        let message = serde_json::json!({
            "created_at": "2019-07-05T16:28:20 Z",
            "kind": if i % 2 == 0 { "visitor" } else { "operator" },
            "message": format!("Сообщение {i}: здравствуйте 👋, ссылка https://user:pw@shop.example.ru/order/{i} и почта anna@example.ru")
        });
        len += message.to_string().len() + 1;
        chat["messages"]
            .as_array_mut()
            .expect("messages is an array")
            .push(message);
        i += 1;
    }
    chat.to_string()
}

fn hmac_hex(chat: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).expect("any key length");
    mac.update(chat);
    hex::encode(mac.finalize().into_bytes())
}

fn settings() -> Settings {
    Settings::from_lookup(|name| match name {
        "WEBIM_PRIVATE_KEYS" => Some(KEY.into()),
        "ORIGIN_URL" => Some("https://edge:p%40ss@origin.example/webim".into()),
        "ORIGIN_SIGNING_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        // A 1 MB chat is about 3 MB once percent-encoded in a form body.
        "MAX_BODY_BYTES" => Some("16777216".into()),
        _ => None,
    })
    .expect("valid bench settings")
}

fn core(c: &mut Criterion) {
    let settings = settings();
    let origin = settings.origin.as_ref().expect("ORIGIN_URL is set");
    for (label, size) in [
        ("1KB", 1 << 10),
        ("4KB", 4 << 10),
        ("64KB", 64 << 10),
        ("1MB", 1 << 20),
    ] {
        let chat = chat_of_size(size);
        let signature = hmac_hex(chat.as_bytes());
        let chat_param: String =
            percent_encoding::utf8_percent_encode(&chat, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let body = format!("chat={chat_param}&signature={signature}");
        let clean = clean::clean(chat.as_bytes()).expect("valid chat").json;
        let event = Event::new(
            &RustCrypto,
            EventType::ChatStarted,
            chat.as_bytes(),
            &clean,
            Scheme::HmacSha256,
            0,
        );

        let mut group = c.benchmark_group(label);
        group.throughput(Throughput::Bytes(chat.len() as u64));
        if size >= 64 << 10 {
            group
                .sample_size(20)
                .measurement_time(Duration::from_secs(3));
        }
        group.bench_function("hmac_sha256_only", |b| {
            b.iter(|| hmac_hex(black_box(chat.as_bytes())))
        });
        group.bench_function("1_read_params", |b| {
            b.iter(|| params::read(b"", FORM, black_box(body.as_bytes())))
        });
        group.bench_function("2_verify", |b| {
            b.iter(|| {
                signature::verify(
                    &RustCrypto,
                    black_box(chat.as_bytes()),
                    Some(signature.as_bytes()),
                    None,
                    &settings.keys,
                    4,
                )
            })
        });
        group.bench_function("3_parse_and_clean", |b| {
            b.iter(|| clean::clean(black_box(chat.as_bytes())))
        });
        group.bench_function("4_event", |b| {
            b.iter(|| {
                Event::new(
                    &RustCrypto,
                    EventType::ChatStarted,
                    black_box(chat.as_bytes()),
                    &clean,
                    Scheme::HmacSha256,
                    0,
                )
            })
        });
        group.bench_function("5_sign_outbound", |b| {
            b.iter(|| origin.request(&RustCrypto, black_box(&event), settings.signing(None), 0))
        });
        group.bench_function("whole", |b| {
            b.iter(|| {
                let accepted = pipeline::accept(
                    &RustCrypto,
                    &settings,
                    EventType::ChatStarted,
                    b"",
                    FORM,
                    black_box(body.as_bytes()),
                    0,
                )
                .expect("genuine");
                origin
                    .request(&RustCrypto, &accepted.event, settings.signing(None), 0)
                    .map(|request| request.body.len())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, core);
criterion_main!(benches);
