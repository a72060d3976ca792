//! The worker's environment: settings read and validated, and which optional bindings exist,
//! both once per isolate (bindings never change within one).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use worker::Env;

use crate::logic::delivery::Bindings;
use crate::logic::settings::{Raw, Settings};
use crate::shell::runtime::{binding, variable};

/// Settings, or the names of the bad ones.
pub type Loaded = Result<Settings, Vec<&'static str>>;

thread_local! {
    static SETTINGS: RefCell<Option<Rc<Loaded>>> = const { RefCell::new(None) };
    static BINDINGS: Cell<Option<Bindings>> = const { Cell::new(None) };
}

/// A variable as a setting: a string, unset, or a value of another type (a TOML number or list
/// in `[vars]` arrives as such), which the core reports as a problem.
#[inline(never)]
fn raw(env: &Env, name: &str) -> Raw {
    match variable(env, name) {
        None => Raw::Unset,
        Some(value) => value.as_string().map_or(Raw::NotText, Raw::Text),
    }
}

/// Which optional bindings are present, looked up once per isolate.
pub fn bindings(env: &Env) -> Bindings {
    BINDINGS.with(|cached| {
        if let Some(bindings) = cached.get() {
            return bindings;
        }
        let present = |name: &str| binding(env, name).is_some();
        let bindings = Bindings {
            outbox: present(OUTBOX),
            queue: present(QUEUE),
            dedup: present(DEDUP),
        };
        cached.set(Some(bindings));
        bindings
    })
}

/// The Durable Object namespace binding of the outbox.
pub const OUTBOX: &str = "OUTBOX";

/// The queue producer binding.
pub const QUEUE: &str = "EVENTS";

/// The KV binding of best-effort deduplication.
pub const DEDUP: &str = "DEDUP";

/// Every setting, read once per isolate (`MAX_BODY_BYTES` within what the outbox can store when
/// it is bound).
pub fn settings(env: &Env) -> Rc<Loaded> {
    SETTINGS.with(|cached| {
        cached
            .borrow_mut()
            .get_or_insert_with(|| {
                let outbox = bindings(env).outbox;
                Rc::new(Settings::from_raw_bound(|name| raw(env, name), outbox))
            })
            .clone()
    })
}
