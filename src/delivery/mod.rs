//! Delivery: what happens to a rendered message on its way out of mailscore. `dkim` signs
//! it (RFC 6376) with the domain's key.

pub mod dkim;
