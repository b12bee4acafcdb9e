//! The store's own connection lanes: connections taken out of a sqlx pool once and lent to
//! one caller at a time, without sqlx's health checks on every loan.
//!
//! A sqlx pool pings a connection when it lends it (`test_before_acquire`) and again when it
//! takes it back (always). On SQLite each ping is a round trip to the connection's own thread
//! (two thread switches), on PostgreSQL a network round trip: a one-statement read made three
//! trips, and the writer connection, which SQLite's writers take in turn, stayed busy for the
//! ping after each of them (docs/performance.md, "The store's connections"). A [`Lane`] keeps
//! the connections it detached from its pool and lends them without a ping; it pings only a
//! connection that has been idle longer than [`IDLE_CHECK`] (a PostgreSQL server may have
//! closed it), and replaces one whose ping fails.
//!
//! A transaction ([`Tx`]) is a loan that began with the backend's `BEGIN`. Committed, it
//! returns its connection clean; dropped without commit (an error, or the caller's future
//! dropped), it is rolled back at once by a task that then returns the connection (outside a
//! runtime, by the next loan, before the connection is used), so nothing of it is ever
//! committed and no lock outlives it. A batch that holds its own `BEGIN … COMMIT` marks its
//! loan the same way ([`Loan::unsettled`]).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use keyfleet_domain::store::StoreResult;
use sqlx::{Connection as _, Pool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::backend::Backend;
use crate::error::map_err;
use crate::exec::{self, Connection};

/// A connection idle longer than this is pinged before it is lent again.
pub const IDLE_CHECK: Duration = Duration::from_secs(10);

/// One idle connection and what the next loan must do first.
struct Idle<B: Backend> {
    conn: Connection<B>,
    since: Instant,
    /// A transaction was left open on it: roll it back before use.
    open_tx: bool,
}

struct Inner<B: Backend> {
    pool: Pool<B::Db>,
    idle: Mutex<Vec<Idle<B>>>,
    /// One permit per connection the lane may lend at once.
    permits: Arc<Semaphore>,
    wait: Duration,
}

/// The writers' turns of a store, for its backend's upkeep ([`crate::backend::UpkeepTask`]).
pub struct WriterTurns<B: Backend>(pub(crate) Lane<B>);

impl<B: Backend> WriterTurns<B> {
    /// Waits for the writers' turn, as a write does, and holds it until the returned guard
    /// is dropped: no write of this process starts meanwhile.
    ///
    /// Errors: `Unavailable` as for a write (the store closed, the turn did not come).
    pub async fn take(&self) -> StoreResult<WriterTurn<B>> {
        Ok(WriterTurn {
            _loan: self.0.acquire().await?,
        })
    }
}

/// The writers' turn, held until dropped ([`WriterTurns::take`]).
pub struct WriterTurn<B: Backend> {
    _loan: Loan<B>,
}

/// Connections of one sqlx pool, lent one caller at a time (see the module documentation).
pub struct Lane<B: Backend> {
    inner: Arc<Inner<B>>,
}

impl<B: Backend> Clone for Lane<B> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<B: Backend> Lane<B> {
    /// A lane lending at most as many connections as `pool` may open, detached from it on
    /// first use, each waiting at most the pool's acquire timeout for its turn.
    pub fn new(pool: Pool<B::Db>) -> Self {
        let options = pool.options();
        let size = options.get_max_connections() as usize;
        let wait = options.get_acquire_timeout();
        Self {
            inner: Arc::new(Inner {
                pool,
                idle: Mutex::new(Vec::with_capacity(size)),
                permits: Arc::new(Semaphore::new(size)),
                wait,
            }),
        }
    }

    /// Lends a connection: an idle one (rolled back or pinged first when needed) or a new
    /// one taken from the pool. Waits its turn when all are lent.
    ///
    /// Errors: `Unavailable` when the lane is closed, the turn did not come within the wait,
    /// or no connection could be opened.
    pub async fn acquire(&self) -> StoreResult<Loan<B>> {
        let permit = match tokio::time::timeout(self.inner.wait, Arc::clone(&self.inner.permits).acquire_owned()).await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(map_err::<B>(sqlx::Error::PoolClosed)),
            Err(_) => return Err(map_err::<B>(sqlx::Error::PoolTimedOut)),
        };
        let idle = self.inner.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match idle {
            Some(idle) => self.ready(idle).await?,
            None => self.open().await?,
        };
        Ok(Loan {
            conn: Some(conn),
            lane: Arc::clone(&self.inner),
            open_tx: false,
            permit: Some(permit),
        })
    }

    /// Starts a transaction with the backend's `BEGIN` on a lent connection.
    pub async fn begin(&self) -> StoreResult<Tx<B>> {
        let mut loan = self.acquire().await?;
        loan.unsettled();
        exec::execute::<B>(&mut loan, B::SQL.begin, &[]).await?;
        Ok(Tx { loan })
    }

    /// Closes every idle connection and refuses further loans; connections lent now are
    /// closed when they come back.
    pub async fn close(&self) {
        self.inner.permits.close();
        let idle = std::mem::take(&mut *self.inner.idle.lock().unwrap_or_else(PoisonError::into_inner));
        for i in idle {
            let _ = i.conn.close().await;
        }
        self.inner.pool.close().await;
    }

    /// `idle`, made ready for use: its left-open transaction rolled back, or a ping when it
    /// has been idle long; replaced by a new connection when either fails.
    async fn ready(&self, mut idle: Idle<B>) -> StoreResult<Connection<B>> {
        if idle.open_tx {
            if roll_back::<B>(&mut idle.conn).await {
                return Ok(idle.conn);
            }
            drop(idle.conn);
            return self.open().await;
        }
        if idle.since.elapsed() < IDLE_CHECK {
            return Ok(idle.conn);
        }
        match idle.conn.ping().await {
            Ok(()) => Ok(idle.conn),
            Err(_) => {
                // The server closed it (restart, idle timeout): a new one instead.
                drop(idle.conn);
                self.open().await
            }
        }
    }

    /// A new connection, taken out of the pool for good.
    async fn open(&self) -> StoreResult<Connection<B>> {
        let conn = self.inner.pool.acquire().await.map_err(map_err::<B>)?;
        Ok(conn.detach())
    }
}

/// A lent connection; it goes back to its lane when dropped.
pub struct Loan<B: Backend> {
    conn: Option<Connection<B>>,
    lane: Arc<Inner<B>>,
    open_tx: bool,
    permit: Option<OwnedSemaphorePermit>,
}

impl<B: Backend> Deref for Loan<B> {
    type Target = Connection<B>;

    fn deref(&self) -> &Connection<B> {
        self.conn.as_ref().expect("a loan holds its connection until dropped")
    }
}

impl<B: Backend> DerefMut for Loan<B> {
    fn deref_mut(&mut self) -> &mut Connection<B> {
        self.conn.as_mut().expect("a loan holds its connection until dropped")
    }
}

impl<B: Backend> Loan<B> {
    /// Marks the connection as possibly inside a transaction the caller began itself (a
    /// batch holding its own `BEGIN … COMMIT`): if the loan ends before [`Self::settled`],
    /// whatever is open on it is rolled back.
    pub fn unsettled(&mut self) {
        self.open_tx = true;
    }

    /// The caller's own transaction ended (committed or rolled back).
    pub fn settled(&mut self) {
        self.open_tx = false;
    }

    /// Runs `sql`, a write that is its own transaction (a batch holding its `BEGIN …
    /// COMMIT`, or one statement): `false` when it failed, rolled back. A rollback that
    /// fails leaves the loan unsettled, so its drop tries again or closes the connection
    /// rather than lending it with a transaction perhaps still open.
    pub async fn write_at_once(&mut self, sql: &str, args: &[exec::Arg<'_>]) -> bool {
        self.unsettled();
        let done = exec::execute::<B>(self, sql, args).await.is_ok();
        if done || roll_back::<B>(self).await {
            self.settled();
        }
        done
    }
}

impl<B: Backend> Drop for Loan<B> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.lane.permits.is_closed() {
            // Closed lane: the connection is dropped, which closes it.
            return;
        }
        let lane = Arc::clone(&self.lane);
        let permit = self.permit.take();
        if self.open_tx {
            // A transaction may be open, holding its locks: roll it back now, the connection
            // still counted as lent, rather than when it is next lent.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if roll_back::<B>(&mut conn).await {
                        lane.put(conn, false);
                    }
                    drop(permit);
                });
                return;
            }
        }
        lane.put(conn, self.open_tx);
        drop(permit);
    }
}

/// Rolls back whatever transaction is open on `conn` (none open counts as done:
/// [`exec::roll_back`]); `false` when that failed twice, and the connection, in a state
/// nobody knows, must be closed. The first try can fail for a reason that is not its own:
/// the answer of a statement whose future was dropped (PostgreSQL reads it before the next
/// one's). Closing is not free on SQLite: a new connection to an in-memory database opens
/// another, empty one.
async fn roll_back<B: Backend>(conn: &mut Connection<B>) -> bool {
    for _ in 0..2 {
        if exec::roll_back::<B>(conn).await {
            return true;
        }
    }
    false
}

impl<B: Backend> Inner<B> {
    /// Takes `conn` back as idle.
    fn put(&self, conn: Connection<B>, open_tx: bool) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(Idle {
            conn,
            since: Instant::now(),
            open_tx,
        });
    }
}

/// A transaction on a lent connection: see the module documentation.
pub struct Tx<B: Backend> {
    loan: Loan<B>,
}

impl<B: Backend> Tx<B> {
    /// Commits; the connection goes back clean.
    pub async fn commit(mut self) -> StoreResult<()> {
        exec::execute::<B>(&mut self.loan, "COMMIT", &[]).await?;
        self.loan.open_tx = false;
        Ok(())
    }
}

impl<B: Backend> Deref for Tx<B> {
    type Target = Connection<B>;

    fn deref(&self) -> &Connection<B> {
        &self.loan
    }
}

impl<B: Backend> DerefMut for Tx<B> {
    fn deref_mut(&mut self) -> &mut Connection<B> {
        &mut self.loan
    }
}

impl<B: Backend> std::fmt::Debug for Lane<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("available", &self.inner.permits.available_permits())
            .finish_non_exhaustive()
    }
}
