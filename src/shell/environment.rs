//! The worker's environment: settings read and validated, and which optional bindings exist,
//! both once per isolate (bindings never change within one), and the clock.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use worker::js_sys::{Date, Reflect};
use worker::wasm_bindgen::JsValue;
use worker::Env;

use crate::logic::delivery::Bindings;
use crate::logic::settings::{Raw, Settings};

/// Settings, or the names of the bad ones.
pub type Loaded = Result<Settings, Vec<&'static str>>;

thread_local! {
    static SETTINGS: RefCell<Option<Rc<Loaded>>> = const { RefCell::new(None) };
    static BINDINGS: Cell<Option<Bindings>> = const { Cell::new(None) };
}

/// A binding as a setting: a string, unset, or a value of another type (a TOML number or
/// list in `[vars]` arrives as such), which the core reports as a problem.
#[inline(never)]
fn raw(env: &Env, name: &str) -> Raw {
    match Reflect::get(env, &JsValue::from_str(name)) {
        Ok(value) if value.is_undefined() || value.is_null() => Raw::Unset,
        Ok(value) => value.as_string().map_or(Raw::NotText, Raw::Text),
        Err(_) => Raw::Unset,
    }
}

/// Every setting, read once per isolate.
pub fn settings(env: &Env) -> Rc<Loaded> {
    SETTINGS.with(|cached| {
        cached
            .borrow_mut()
            .get_or_insert_with(|| Rc::new(Settings::from_raw(|name| raw(env, name))))
            .clone()
    })
}

/// Which optional bindings are present, looked up once per isolate.
pub fn bindings(env: &Env) -> Bindings {
    BINDINGS.with(|cached| {
        if let Some(bindings) = cached.get() {
            return bindings;
        }
        let present = |name: &str| {
            Reflect::get(env, &JsValue::from_str(name)).is_ok_and(|value| value.is_object())
        };
        let bindings = Bindings {
            outbox: present("OUTBOX"),
            queue: present("EVENTS"),
            dedup: present("DEDUP"),
        };
        cached.set(Some(bindings));
        bindings
    })
}

/// The clock, in Unix milliseconds: the shell reads it and hands the value to the core.
pub fn now_ms() -> u64 {
    Date::now() as u64
}
