//! The link-verification worker pool: the XMTP half of the two-way confirmation.
