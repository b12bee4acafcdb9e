//! What the database did for a stretch of a test: how many statements ran and how many rows
//! they returned, read from the events sqlx itself emits (target `sqlx::query`, one per
//! statement, with `rows_returned`; sqlx logs every statement at DEBUG). The stores are not
//! touched and nothing is mocked: the recorder is a `tracing` layer installed as the process's
//! global subscriber, so it also sees the statements SQLite runs on sqlx's worker threads.
//!
//! Global means per process: nextest runs each test in a process of its own (the README's test
//! command). Under `cargo test` other tests of the binary would add their statements, so
//! [`install`] refuses to share a process with another subscriber, and callers read tallies only
//! around requests they make one at a time.

use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Statements run and rows they returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub statements: u64,
    pub rows: u64,
}

static TALLY: Mutex<Tally> = Mutex::new(Tally { statements: 0, rows: 0 });
static INSTALLED: OnceLock<()> = OnceLock::new();

const TARGET: &str = "sqlx::query";

/// Installs the recorder (once per process); panics if another global subscriber is set.
pub fn install() {
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Recorder))
            .expect("the statement recorder needs the process to itself (run the tests with nextest)");
    });
}

/// The tally since the last call, and a fresh start.
pub fn take() -> Tally {
    std::mem::take(&mut *TALLY.lock().unwrap())
}

struct Recorder;

impl<S: Subscriber> Layer<S> for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target() == TARGET
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        // The SQLite store's checkpointer runs `PRAGMA wal_checkpoint` on a timer of its own:
        // upkeep, not the work of any request.
        if fields.summary.trim_start().to_ascii_lowercase().starts_with("pragma") {
            return;
        }
        let mut tally = TALLY.lock().unwrap();
        tally.statements += 1;
        tally.rows += fields.rows_returned;
    }
}

#[derive(Default)]
struct Fields {
    summary: String,
    rows_returned: u64,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "rows_returned" {
            self.rows_returned = value;
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.summary = value.to_owned();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" && self.summary.is_empty() {
            self.summary = format!("{value:?}").trim_matches('"').to_owned();
        }
    }
}
