//! How a server tells the command line on its machine where it is, and how the command line
//! reads it: `DATA_DIR/server.json` (the URL, PID and start of the server that holds the
//! store) and `DATA_DIR/server.token` (the secret of an admin API token made for the
//! command line, mode 0600). `serve` writes both once it accepts connections and removes
//! them when it stops cleanly; see "The command line next to a server" in
//! docs/ARCHITECTURE.md.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::accounts::{AccountError, replace_local_token};
use crate::domain::account::TokenId;
use crate::store::Store;

/// The server's address file, in the data directory.
pub const SERVER_FILE: &str = "server.json";

/// The local admin token's secret, in the data directory (mode 0600).
pub const TOKEN_FILE: &str = "server.token";

/// What `server.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFile {
    /// Where this machine reaches the server: `http://127.0.0.1:PORT`, `https://…` with TLS.
    pub url: String,
    /// The server's process id.
    pub pid: u32,
    /// When the server started, RFC 3339.
    pub started_at: String,
    /// The certificate a client of `url` trusts, relative to the data directory: the
    /// self-signed one; absent for plain HTTP and for certificates a public CA issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl ServerFile {
    /// The file of a server listening on `listen`, started now by this process.
    pub fn for_this_process(listen: SocketAddr, tls: bool, ca_file: Option<PathBuf>) -> Self {
        Self {
            url: reachable_url(listen, tls),
            pid: std::process::id(),
            started_at: jiff::Timestamp::now().to_string(),
            ca_file,
        }
    }
}

/// The URL this machine reaches a listener on `listen` at: its own address, or the loopback
/// address of its family for a listener on every interface.
pub fn reachable_url(listen: SocketAddr, tls: bool) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, listen.port()))
}

/// How writing the files for the command line fails.
#[derive(Debug, Error)]
pub enum LocalServerError {
    #[error("cannot make the command line's API token: {0}")]
    Token(#[from] AccountError),
    #[error(
        "cannot write {} for the command line: {source}\nhint: the data directory must be \
         writable by the server",
        path.display()
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The files a server wrote: what [`withdraw`] removes and revokes.
#[derive(Debug)]
pub struct LocalAccess {
    data_dir: PathBuf,
    token_id: TokenId,
}

/// Makes the command line's token (revoking the last server's) and writes
/// `server.token`, then `server.json`, each atomically: a command that finds
/// `server.json` finds the token beside it.
pub async fn announce(
    store: &dyn Store,
    data_dir: &Path,
    server: &ServerFile,
) -> Result<LocalAccess, LocalServerError> {
    let created = replace_local_token(store).await?;
    write_atomically(
        &data_dir.join(TOKEN_FILE),
        format!("{}\n", created.secret).as_bytes(),
        0o600,
    )?;
    let json = serde_json::to_string_pretty(server).expect("a server file serialises");
    write_atomically(
        &data_dir.join(SERVER_FILE),
        format!("{json}\n").as_bytes(),
        0o644,
    )?;
    Ok(LocalAccess {
        data_dir: data_dir.to_path_buf(),
        token_id: created.token.id,
    })
}

/// Removes `server.json` and `server.token` (the address first, so no command reads one
/// without the other) and revokes the token; the server has stopped listening by then.
/// Best effort: what fails is logged, and the next start replaces both.
pub async fn withdraw(store: &dyn Store, access: LocalAccess) {
    for name in [SERVER_FILE, TOKEN_FILE] {
        let path = access.data_dir.join(name);
        if let Err(error) = std::fs::remove_file(&path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), %error, "could not remove the file");
        }
    }
    let at = jiff::Timestamp::now().as_microsecond();
    if let Err(error) = store.revoke_token(access.token_id, at).await {
        tracing::warn!(%error, "could not revoke the command line's token; the next start does");
    }
}

/// The `server.json` of `data_dir`; `None` when there is none, or when it does not parse
/// (a file cut off by a full disk says nothing about a live server).
pub fn read_server_file(data_dir: &Path) -> Option<ServerFile> {
    let path = data_dir.join(SERVER_FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str(&text) {
        Ok(file) => Some(file),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "ignoring a server file that does not parse");
            None
        }
    }
}

/// The token secret of `server.token` in `data_dir`.
pub fn read_token(data_dir: &Path) -> std::io::Result<String> {
    Ok(std::fs::read_to_string(data_dir.join(TOKEN_FILE))?
        .trim()
        .to_owned())
}

/// Whether process `pid` exists: `Some` where the system tells (`/proc` on Linux), `None`
/// elsewhere.
pub fn process_is_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else {
        None
    }
}

/// Writes `bytes` to a temporary file beside `path` with `mode`, then renames it into
/// place: a reader sees the old file or the whole new one.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), LocalServerError> {
    use std::io::Write;
    let write_error = |source| LocalServerError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(write_error(error));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_on_every_interface_is_reached_on_the_loopback_address() {
        let url = |listen: &str, tls| reachable_url(listen.parse().unwrap(), tls);
        assert_eq!(url("0.0.0.0:8080", false), "http://127.0.0.1:8080");
        assert_eq!(url("[::]:8443", true), "https://[::1]:8443");
        assert_eq!(url("192.0.2.7:80", false), "http://192.0.2.7:80");
        assert_eq!(url("127.0.0.1:43210", true), "https://127.0.0.1:43210");
    }

    #[test]
    fn the_token_file_is_the_owners_alone_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        write_atomically(&path, b"msk_first\n", 0o600).unwrap();
        write_atomically(&path, b"msk_second\n", 0o600).unwrap();
        assert_eq!(read_token(dir.path()).unwrap(), "msk_second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
    }

    #[test]
    fn a_server_file_that_does_not_parse_is_no_server() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_server_file(dir.path()), None);
        std::fs::write(dir.path().join(SERVER_FILE), "{\"url\": \"http://127.0").unwrap();
        assert_eq!(read_server_file(dir.path()), None);
        let file = ServerFile::for_this_process("127.0.0.1:9".parse().unwrap(), false, None);
        std::fs::write(
            dir.path().join(SERVER_FILE),
            serde_json::to_string(&file).unwrap(),
        )
        .unwrap();
        assert_eq!(read_server_file(dir.path()), Some(file));
    }

    #[test]
    fn this_process_is_alive() {
        if let Some(alive) = process_is_alive(std::process::id()) {
            assert!(alive);
        }
    }
}
