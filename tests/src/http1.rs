//! The HTTP/1.1 plumbing the test proxies in front of moto share ([`crate::faults`],
//! [`crate::pushed_keys`]): one request per connection, heads read and rewritten
//! as text, bodies by Content-Length. Enough for the AWS SDK's requests and moto's
//! answers; not a general HTTP implementation.

use std::future::Future;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections on `listener` for ever, each handled by `handle` in a task of
/// its own (a failed connection is the client's problem, not the proxy's).
pub fn serve<F, Fut>(listener: TcpListener, handle: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let Ok((inbound, _)) = listener.accept().await else {
                continue;
            };
            let connection = handle(inbound);
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    })
}

/// One HTTP/1.1 message: its head and its Content-Length body (or, when `to_eof` and
/// the message gives no length, everything to the end).
pub async fn read_message(
    stream: &mut TcpStream,
    to_eof: bool,
) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut body = buf[head_end..].to_vec();
    match header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(n) => {
            while body.len() < n {
                let got = stream.read(&mut chunk).await?;
                if got == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..got]);
            }
        }
        None if to_eof => {
            stream.read_to_end(&mut body).await?;
        }
        None => {}
    }
    Ok((head, body))
}

/// The value of header `name` (any case) in `head`.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with `Connection: close` (one request per connection) and, when given, a
/// new Content-Length.
pub fn rewrite(head: &str, length: Option<usize>) -> String {
    let mut out: Vec<String> = head
        .trim_end()
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            let stale_length = length.is_some() && l.starts_with("content-length:");
            !l.starts_with("connection:") && !stale_length
        })
        .map(str::to_string)
        .collect();
    out.push("Connection: close".to_string());
    if let Some(n) = length {
        out.push(format!("Content-Length: {n}"));
    }
    format!("{}\r\n\r\n", out.join("\r\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_rewritten_with_the_new_length_and_close() {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100\r\nConnection: keep-alive\r\n\r\n";
        let out = rewrite(head, Some(50));
        assert!(out.contains("Content-Length: 50\r\n"), "{out}");
        assert!(!out.contains("100"), "{out}");
        assert!(out.contains("Connection: close"), "{out}");
        assert!(out.ends_with("\r\n\r\n"));
        assert_eq!(header(head, "content-length"), Some("100"));
    }
}
