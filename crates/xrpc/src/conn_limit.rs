//! The per-client cap on open connections: one client (an IPv4 address or an IPv6 /64, as
//! the rate limiter counts them) holds at most `max` of the server's connections, so a
//! single address cannot take the whole `max_connections` budget — and the memory each open
//! connection holds (~17 KiB of hyper state and read buffer, BENCHMARKS.md) — for itself.
//!
//! The table holds an entry only while its client has a connection open, so it is bounded
//! by `max_connections`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::rate_limit::client_key;

/// Open connections per client key.
#[derive(Debug)]
pub(crate) struct PerClientConnections {
    max: u32,
    open: Mutex<HashMap<u128, u32>>,
}

/// One open connection of a client; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct ClientSlot {
    table: Arc<PerClientConnections>,
    key: u128,
}

impl PerClientConnections {
    /// A table allowing `max` open connections per client (`max` ≥ 1).
    pub(crate) fn new(max: u32) -> Arc<PerClientConnections> {
        Arc::new(PerClientConnections {
            max: max.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a slot for a new connection from `ip`, or `None` when that client already has
    /// `max` open.
    pub(crate) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ClientSlot> {
        let key = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            table: self.clone(),
            key,
        })
    }

    /// How many clients have a connection open (for tests).
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self
            .table
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn v4(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
    }

    #[test]
    fn a_client_holds_at_most_max_and_gets_a_slot_back_when_one_closes() {
        let table = PerClientConnections::new(2);
        let a = table.try_acquire(v4(1));
        let b = table.try_acquire(v4(1));
        assert!(a.is_some() && b.is_some());
        assert!(
            table.try_acquire(v4(1)).is_none(),
            "a third from one client"
        );
        assert!(
            table.try_acquire(v4(2)).is_some(),
            "another client is not affected"
        );
        drop(a);
        assert!(
            table.try_acquire(v4(1)).is_some(),
            "a closed one frees its slot"
        );
    }

    #[test]
    fn ipv6_clients_share_a_slot_budget_per_64_and_the_table_forgets_closed_clients() {
        let table = PerClientConnections::new(1);
        let net = 0x2001_0db8_0000_0001_u128 << 64;
        let first = table.try_acquire(IpAddr::V6(Ipv6Addr::from(net | 1)));
        assert!(first.is_some());
        assert!(
            table
                .try_acquire(IpAddr::V6(Ipv6Addr::from(net | 2)))
                .is_none(),
            "same /64"
        );
        assert!(
            table
                .try_acquire(IpAddr::V6(Ipv6Addr::from(net + (1 << 64))))
                .is_some(),
            "another /64"
        );
        drop(first);
        assert_eq!(
            table.clients(),
            0,
            "no entry is kept for a client with nothing open"
        );
    }
}
