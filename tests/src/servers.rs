//! Local servers for the probe tests, all bound to 127.0.0.1: a small authoritative DNS
//! server (UDP), hand-written HTTP servers, a silent listener, a black-hole port (TCP
//! connects time out) and closed ports.
//!
//! Each server runs as tasks on the tokio runtime that calls it; [`crate::ProbeEnv`]
//! gives them a runtime of their own so a test blocked on `labrun` cannot starve them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};

/// One record of the test zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rec {
    Cname(String),
    Ip(IpAddr),
}

impl Rec {
    pub fn cname(target: impl Into<String>) -> Rec {
        Rec::Cname(target.into())
    }

    /// An A or AAAA record; panics on a malformed address (test data).
    pub fn ip(address: &str) -> Rec {
        Rec::Ip(
            address
                .parse()
                .unwrap_or_else(|_| panic!("{address} is not an IP address")),
        )
    }
}

/// Starts a DNS server on 127.0.0.1 (UDP, free port) answering from `zone` (names
/// without the trailing dot, any case); unknown names get NXDOMAIN. It only *answers*
/// addresses; nothing ever connects to them.
pub async fn dns_server<N: AsRef<str>>(zone: &[(N, Rec)]) -> SocketAddr {
    let mut map: HashMap<String, Vec<Rec>> = HashMap::new();
    for (name, rec) in zone {
        map.entry(format!("{}.", name.as_ref().to_ascii_lowercase()))
            .or_default()
            .push(rec.clone());
    }
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind DNS socket");
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(request) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let response = answer(&map, &request);
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

/// A DNS server over TCP only (RFC 1035 §4.2.2: each message after its two-byte
/// length), on 127.0.0.1 at a free port, answering from `zone` as [`dns_server`] does.
/// It stands for a VPC's resolver as a server inside the VPC asks it (`nslookup` over
/// an SSH channel is TCP). It runs on a thread of its own for the life of the process,
/// so a test blocked on `labrun` cannot starve it.
pub fn dns_server_tcp<N: AsRef<str>>(zone: &[(N, Rec)]) -> SocketAddr {
    let mut map: HashMap<String, Vec<Rec>> = HashMap::new();
    for (name, rec) in zone {
        map.entry(format!("{}.", name.as_ref().to_ascii_lowercase()))
            .or_default()
            .push(rec.clone());
    }
    let map = Arc::new(map);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind DNS TCP socket");
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("DNS runtime");
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let map = map.clone();
                tokio::spawn(async move {
                    loop {
                        let mut len = [0u8; 2];
                        if stream.read_exact(&mut len).await.is_err() {
                            return;
                        }
                        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
                        if stream.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        let Ok(request) = Message::from_vec(&buf) else {
                            return;
                        };
                        let Ok(bytes) = answer(&map, &request).to_vec() else {
                            return;
                        };
                        let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
                        out.extend(bytes);
                        if stream.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    addr
}

fn answer(zone: &HashMap<String, Vec<Rec>>, request: &Message) -> Message {
    let mut response = Message::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    let Some(query) = request.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    response.add_query(query.clone());
    let qtype = query.query_type();
    let mut current = query.name().to_string().to_ascii_lowercase();
    let mut answers = Vec::new();
    let mut exists = false;
    for _ in 0..8 {
        let Some(records) = zone.get(&current) else {
            break;
        };
        exists = true;
        if let Some(Rec::Cname(target)) = records.iter().find(|r| matches!(r, Rec::Cname(_))) {
            let target = Name::from_ascii(format!("{target}.")).unwrap();
            answers.push(Record::from_rdata(
                Name::from_ascii(&current).unwrap(),
                60,
                RData::CNAME(CNAME(target.clone())),
            ));
            if qtype == RecordType::CNAME {
                break;
            }
            current = target.to_string().to_ascii_lowercase();
            exists = false;
            continue;
        }
        for r in records {
            if let Rec::Ip(ip) = r {
                let data = match ip {
                    IpAddr::V4(v4) if matches!(qtype, RecordType::A | RecordType::ANY) => {
                        RData::A(A(*v4))
                    }
                    IpAddr::V6(v6) if matches!(qtype, RecordType::AAAA | RecordType::ANY) => {
                        RData::AAAA(AAAA(*v6))
                    }
                    _ => continue,
                };
                answers.push(Record::from_rdata(
                    Name::from_ascii(&current).unwrap(),
                    60,
                    data,
                ));
            }
        }
        break;
    }
    // A CNAME query is answered by the CNAME record alone.
    let answered_cname = qtype == RecordType::CNAME && !answers.is_empty();
    if !exists && !answered_cname {
        response.metadata.response_code = ResponseCode::NXDomain;
    }
    response.add_answers(answers);
    response
}

/// A 127.0.0.1 port nothing listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// A UDP port on 127.0.0.1 nothing listens on.
pub async fn closed_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.local_addr().unwrap().port()
}

/// Accepts TCP connections and never answers (holds them open for a minute): the TCP
/// connect succeeds, an HTTP request times out.
pub async fn silent_listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            if let Ok((stream, _)) = l.accept().await {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    drop(stream);
                });
            }
        }
    });
    port
}

/// A port where even the TCP connect times out, like a host behind a security group
/// that drops packets: a listener with a full accept queue that never accepts, so
/// Linux drops every further SYN. Lives as long as the runtime that started it.
pub async fn blackhole_port() -> u16 {
    let socket = TcpSocket::new_v4().expect("TCP socket");
    socket
        .bind("127.0.0.1:0".parse().unwrap())
        .expect("bind black-hole port");
    let listener = socket.listen(0).expect("listen on black-hole port");
    let addr = listener.local_addr().unwrap();
    // Fill the accept queue (backlog 0 holds one connection) until a connect hangs.
    let mut held = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            _ => break,
        }
    }
    assert!(
        !held.is_empty(),
        "could not fill the black-hole accept queue"
    );
    tokio::spawn(async move {
        let _keep = (listener, held);
        std::future::pending::<()>().await;
    });
    addr.port()
}

pub const WORDPRESS_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"ja\"><head>\
<meta name=\"generator\" content=\"WordPress 6.4.2\" />\
<title>user05 blog</title>\
<link rel='stylesheet' href='http://elb-user05-1234567890.ap-northeast-1.elb.amazonaws.com/wp-content/themes/twentytwentyfour/style.css' />\
</head><body class=\"home blog\"><h1>user05 blog</h1><p>Hello world!</p></body></html>\n";

/// The front page of a trainee's WordPress served at `site_url` (no trailing slash).
pub fn wordpress_page(title: &str, site_url: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"ja\"><head>\
<meta name=\"generator\" content=\"WordPress 6.4.2\" />\
<title>{title}</title>\
<link rel='stylesheet' href='{site_url}/wp-content/themes/twentytwentyfour/style.css' />\
</head><body class=\"home blog\"><h1>{title}</h1><p>Hello world!</p></body></html>\n"
    )
}

/// nginx's default page: a web server answers, but not with WordPress.
pub const NGINX_WELCOME_PAGE: &str =
    "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\
<body><h1>Welcome to nginx!</h1><p>If you see this page, the nginx web server is successfully \
installed and working. Further configuration is required.</p></body></html>\n";

/// What `/` answers.
#[derive(Clone, Debug)]
pub struct HomePage {
    /// Status line after `HTTP/1.1`, e.g. `200 OK`.
    pub status: String,
    pub body: String,
}

impl HomePage {
    pub fn ok(body: impl Into<String>) -> HomePage {
        HomePage {
            status: "200 OK".into(),
            body: body.into(),
        }
    }

    /// What an ALB says when no target is healthy.
    pub fn service_unavailable() -> HomePage {
        HomePage {
            status: "503 Service Temporarily Unavailable".into(),
            body: "<html><head><title>503 Service Temporarily Unavailable</title></head>\
<body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>\n"
                .into(),
        }
    }
}

/// An HTTP/1.1 server on 127.0.0.1 with fixed pages; records each request's Host header.
pub struct HttpServer {
    pub port: u16,
    pub hosts: Arc<Mutex<Vec<String>>>,
}

/// [`http_server_with`] serving [`WORDPRESS_PAGE`] at `/`.
pub async fn http_server() -> HttpServer {
    http_server_with(HomePage::ok(WORDPRESS_PAGE)).await
}

/// An HTTP server: `/` answers `home`, `/down` 503, `/old` 301 → `/`, `/loop` 302 →
/// `/loop`, `/huge` a 2 MiB body, `/echo` the request head as the body, else 404.
pub async fn http_server_with(home: HomePage) -> HttpServer {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let seen = hosts.clone();
    let home = Arc::new(home);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = l.accept().await else {
                continue;
            };
            tokio::spawn(serve(stream, seen.clone(), home.clone()));
        }
    });
    HttpServer { port, hosts }
}

async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Vec<String>>>, home: Arc<HomePage>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        // A TLS ClientHello on this plain-HTTP port: answer like nginx does.
        if head.first() == Some(&0x16) {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                )
                .await;
            let _ = stream.shutdown().await;
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let host = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("host").then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    seen.lock().unwrap().push(host);
    let (status, extra, body): (&str, String, Vec<u8>) = match path.as_str() {
        "/" => (
            home.status.as_str(),
            if home.body.contains("wp-content") {
                "Content-Type: text/html; charset=UTF-8\r\nX-Powered-By: PHP/8.1\r\n".into()
            } else {
                "Content-Type: text/html; charset=UTF-8\r\n".into()
            },
            home.body.as_bytes().to_vec(),
        ),
        "/down" => (
            "503 Service Unavailable",
            String::new(),
            b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>".to_vec(),
        ),
        "/old" => (
            "301 Moved Permanently",
            "Location: /\r\n".into(),
            Vec::new(),
        ),
        "/loop" => ("302 Found", "Location: /loop\r\n".into(), Vec::new()),
        "/huge" => ("200 OK", String::new(), vec![b'x'; 2 * 1024 * 1024]),
        "/echo" => ("200 OK", String::new(), head.clone().into_bytes()),
        _ => ("404 Not Found", String::new(), b"not found".to_vec()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nServer: nginx/1.24.0\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}
