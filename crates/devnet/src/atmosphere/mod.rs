//! The ATProto side of the devnet: relay (subscribeRepos), PLC directory and PDS.
