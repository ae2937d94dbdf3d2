//! ATProto and XMTP identifier syntax: Did, Handle, Nsid, AtUri, Rkey, Tid, Datetime, InboxId newtypes.
