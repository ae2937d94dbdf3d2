//! The firehose load: devnet commits at a target rate, paced in 10 ms slots on OS threads.
//!
//! Each thread owns a share of the users. A user keeps at most [`KEEP`] filler records: past
//! that, the next event of that user deletes its oldest one, so the devnet's repos (and the
//! cost of each commit) stay bounded for a 30-minute run while the stream keeps a realistic
//! mix of creates and deletes. Every [`LINK_EVERY`]th event creates an account and links it
//! to a new XMTP inbox, so the index grows and the verifier works throughout.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use devnet::atmosphere::tid::TidClock;
use devnet::atmosphere::traffic::{NOISE_COLLECTIONS, noise_record};
use devnet::world::Devnet;
use rand::Rng;

/// Filler records kept per user before the oldest is deleted.
const KEEP: usize = 6;
/// One new linked account every this many events (per thread).
const LINK_EVERY: u64 = 400;
/// Pacing slot.
const SLOT: Duration = Duration::from_millis(10);

/// Counters shared with the generator threads.
#[derive(Debug, Default)]
pub struct Counters {
    /// Commits (and account events) written.
    pub events: AtomicU64,
    /// New linked accounts.
    pub links: AtomicU64,
    /// Writes the devnet refused.
    pub errors: AtomicU64,
}

/// The running generator.
pub struct Generator {
    stop: Arc<AtomicBool>,
    pub counters: Arc<Counters>,
    threads: Vec<JoinHandle<()>>,
}

impl Generator {
    /// Starts `threads` threads writing `rate` events/s in total over `users`.
    pub fn start(devnet: &Devnet, users: &[String], rate: u32, threads: usize) -> Generator {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let threads = (0..threads)
            .map(|t| {
                let mine: Vec<String> = users.iter().skip(t).step_by(threads).cloned().collect();
                let per_slot = f64::from(rate) / threads as f64 * SLOT.as_secs_f64();
                let (devnet, stop, counters) = (devnet.clone(), stop.clone(), counters.clone());
                std::thread::spawn(move || write_loop(&devnet, mine, per_slot, t, &stop, &counters))
            })
            .collect();
        Generator {
            stop,
            counters,
            threads,
        }
    }

    /// Stops the threads.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

struct User {
    did: String,
    records: VecDeque<(&'static str, String)>,
}

fn write_loop(
    devnet: &Devnet,
    dids: Vec<String>,
    per_slot: f64,
    t: usize,
    stop: &AtomicBool,
    counters: &Counters,
) {
    let mut users: Vec<User> = dids
        .into_iter()
        .map(|did| User {
            did,
            records: VecDeque::new(),
        })
        .collect();
    if users.is_empty() {
        return;
    }
    let rkeys = TidClock::new(100 + t as u16);
    let mut rng = rand::rng();
    let mut next = Instant::now();
    let mut owed = 0.0;
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        owed += per_slot;
        while owed >= 1.0 {
            owed -= 1.0;
            n += 1;
            if n.is_multiple_of(LINK_EVERY) {
                let handle = format!("soak{t}-{n}");
                match devnet.create_user(&handle) {
                    Ok(user) => {
                        counters.events.fetch_add(1, Ordering::Relaxed);
                        if devnet.link_inbox(&user.did).is_ok() {
                            counters.links.fetch_add(1, Ordering::Relaxed);
                            counters.events.fetch_add(1, Ordering::Relaxed);
                        }
                        users.push(User {
                            did: user.did,
                            records: VecDeque::new(),
                        });
                    }
                    Err(_) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                continue;
            }
            let i = rng.random_range(0..users.len());
            let other = users[rng.random_range(0..users.len())].did.clone();
            let user = &mut users[i];
            let result = if user.records.len() >= KEEP {
                let (collection, rkey) = user.records.pop_front().unwrap_or_default();
                devnet.pds().delete_record(&user.did, collection, &rkey)
            } else {
                let collection = NOISE_COLLECTIONS[rng.random_range(0..NOISE_COLLECTIONS.len())];
                let rkey = rkeys.next();
                let value = noise_record(collection, &user.did, &other, n);
                let result = devnet
                    .pds()
                    .create_record(&user.did, collection, &rkey, value);
                if result.is_ok() {
                    user.records.push_back((collection, rkey));
                }
                result
            };
            let counter = if result.is_ok() {
                &counters.events
            } else {
                &counters.errors
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        next += SLOT;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > Duration::from_secs(1) {
            // Far behind (the machine is saturated): do not burst to catch up.
            next = now;
        }
    }
}
