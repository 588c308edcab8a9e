//! Delivery: what happens to a rendered message on its way out of mailscore. `dkim` signs
//! it (RFC 6376) with the domain's key, `smtp` hands it to the SMTP server, and `policy`
//! holds the sender's decisions (rate limit, retries, the automatic pause) free of I/O.
//! The service that walks the queue is `crate::service::delivery`.

pub mod dkim;
pub mod policy;
pub mod smtp;

pub use smtp::{SmtpError, SmtpSettings, SmtpTransport};
