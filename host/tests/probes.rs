//! Network probes (dns, mysql, http, tcp) against real servers, all on 127.0.0.1.
//!
//! MySQL tests need the four MariaDB servers of `tests/env/mariadb.sh` (started by
//! `tests/run`, which exports LABRUN_MARIADB_*); without them they fail. The DNS, HTTP
//! and TCP servers are started in-process (`labrun_tests::servers`). DNS answers name
//! realistic AWS addresses (10.0.2.x …) but every connection goes to 127.0.0.1 through
//! connect-to rules.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use labrun::caps::net::{ConnectTo, NetConfig, Secret};
use labrun::caps::{dns, http, mysql, tcp, CapError, ErrorKind};
use labrun_tests::servers::{self, Rec};
use serde_json::{json, Value};

const CLUSTER: &str = "wp-user05-cluster.cluster-abc.ap-northeast-1.rds.amazonaws.com";
const CLUSTER_RO: &str = "wp-user05-cluster.cluster-ro-abc.ap-northeast-1.rds.amazonaws.com";
const WRITER: &str = "wp-user05.abc.ap-northeast-1.rds.amazonaws.com";
const READER: &str = "wp-user05-slave.abc.ap-northeast-1.rds.amazonaws.com";
const ALB: &str = "elb-user05-1234567890.ap-northeast-1.elb.amazonaws.com";
const ALB_URL: &str = "http://elb-user05-1234567890.ap-northeast-1.elb.amazonaws.com";
const OLD_URL: &str = "http://ec2-54-250-1-2.ap-northeast-1.compute.amazonaws.com";

async fn lab_dns() -> SocketAddr {
    servers::dns_server(&[
        (CLUSTER, Rec::cname(WRITER)),
        (CLUSTER_RO, Rec::cname(READER)),
        (WRITER, Rec::ip("10.0.2.57")),
        (READER, Rec::ip("10.0.3.81")),
        ("dual.test", Rec::ip("10.0.2.9")),
        ("dual.test", Rec::ip("fd00::9")),
        ("web.test", Rec::ip("127.0.0.1")),
        ("nxtarget.test", Rec::cname("gone.test")),
    ])
    .await
}

fn connect_to(rule: &str) -> ConnectTo {
    rule.parse().unwrap()
}

fn quick(net: NetConfig) -> NetConfig {
    NetConfig {
        timeout: Duration::from_secs(3),
        ..net
    }
}

// ----------------------------------------------------------------------------- dns

#[tokio::test]
async fn dns_follows_the_cname_chain_of_the_cluster_endpoint() {
    let server = lab_dns().await;
    let net = quick(NetConfig {
        dns_server: Some(server),
        ..NetConfig::default()
    });
    let v = dns::call(&net, "lookup", &json!({"name": CLUSTER}))
        .await
        .unwrap();
    assert_eq!(
        v,
        json!({
            "name": CLUSTER,
            "status": "ok",
            "cname_chain": [format!("{WRITER}.")],
            "addresses": ["10.0.2.57"],
            "server": server.to_string(),
        })
    );
    let v = dns::call(&net, "lookup", &json!({"name": CLUSTER_RO, "type": "A"}))
        .await
        .unwrap();
    assert_eq!(v["cname_chain"], json!([format!("{READER}.")]));
    assert_eq!(v["addresses"], json!(["10.0.3.81"]));

    let v = dns::call(&net, "lookup", &json!({"name": CLUSTER, "type": "CNAME"}))
        .await
        .unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["cname_chain"], json!([format!("{WRITER}.")]));
    assert_eq!(v["addresses"], json!([]));

    let v = dns::call(&net, "lookup", &json!({"name": "dual.test"}))
        .await
        .unwrap();
    assert_eq!(v["addresses"], json!(["10.0.2.9", "fd00::9"]));
    assert_eq!(v["cname_chain"], json!([]));
}

#[tokio::test]
async fn dns_nxdomain_and_nodata_are_answers() {
    let server = lab_dns().await;
    let net = quick(NetConfig {
        dns_server: Some(server),
        ..NetConfig::default()
    });
    let v = dns::call(
        &net,
        "lookup",
        &json!({"name": "no-such-cluster.rds.amazonaws.com"}),
    )
    .await
    .unwrap();
    assert_eq!(v["status"], "nxdomain", "{v}");
    assert_eq!(v["addresses"], json!([]));

    let v = dns::call(&net, "lookup", &json!({"name": WRITER, "type": "AAAA"}))
        .await
        .unwrap();
    assert_eq!(v["status"], "nodata", "{v}");
}

#[tokio::test]
async fn dns_server_down_is_an_error_within_the_timeout() {
    let port = servers::closed_udp_port().await;
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let net = NetConfig {
        dns_server: Some(server),
        timeout: Duration::from_secs(1),
        ..NetConfig::default()
    };
    let start = Instant::now();
    let e = dns::call(&net, "lookup", &json!({"name": CLUSTER}))
        .await
        .unwrap_err();
    eprintln!("dns server down after {:?}: {e:?}", start.elapsed());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        matches!(e.kind, ErrorKind::Network | ErrorKind::Timeout),
        "{e:?}"
    );
    assert!(e.message.contains(&server.to_string()), "{}", e.message);
}

#[tokio::test]
async fn dns_rejects_bad_requests() {
    let net = NetConfig::default();
    let e = dns::call(&net, "lookup", &json!({"name": "x", "type": "MX"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.contains("`type`"), "{}", e.message);
    let e = dns::call(&net, "lookup", &json!({"name": "x", "server": "1.1.1.1"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.contains("`server`"), "{}", e.message);
    let e = dns::call(&net, "lookup", &json!({"name": 5}))
        .await
        .unwrap_err();
    assert!(e.message.contains("`name`"), "{}", e.message);
    let e = dns::call(&net, "axfr", &json!({})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(dns::SPEC.operation_names(), ["lookup"]);
}

// ----------------------------------------------------------------------------- mysql

struct Mariadb {
    writer: SocketAddr,
    reader: SocketAddr,
    nowp: SocketAddr,
    oldurl: SocketAddr,
    password: String,
}

fn mariadb() -> Mariadb {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: start the servers with tests/run \
                 (or `eval \"$(tests/env/mariadb.sh start DIR)\"`)"
            )
        })
    };
    let addr = |name: &str| -> SocketAddr {
        let v = var(name);
        v.parse().unwrap_or_else(|_| {
            panic!("{name}={v} is not IP:PORT; start the servers with tests/run")
        })
    };
    let file = var("LABRUN_MARIADB_PASSWORD_FILE");
    let password = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {file}: {e}; start the servers with tests/run"))
        .trim()
        .to_string();
    Mariadb {
        writer: addr("LABRUN_MARIADB_WRITER"),
        reader: addr("LABRUN_MARIADB_READER"),
        nowp: addr("LABRUN_MARIADB_NOWP"),
        oldurl: addr("LABRUN_MARIADB_OLDURL"),
        password,
    }
}

fn db_net(m: &Mariadb) -> NetConfig {
    quick(NetConfig {
        mysql_password: Some(Secret::new(m.password.clone())),
        ..NetConfig::default()
    })
}

async fn sql(
    net: &NetConfig,
    at: SocketAddr,
    database: Option<&str>,
    sql: &str,
) -> Result<Value, CapError> {
    let mut request =
        json!({"host": at.ip().to_string(), "port": at.port(), "user": "admin", "sql": sql});
    if let Some(db) = database {
        request["database"] = json!(db);
    }
    mysql::call(net, "query", &request).await
}

fn first_column(v: &Value) -> Vec<Value> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].clone())
        .collect()
}

#[tokio::test]
async fn mysql_show_databases_lists_wordpress_only_where_it_exists() {
    let m = mariadb();
    let net = db_net(&m);
    let v = sql(&net, m.writer, None, "SHOW DATABASES").await.unwrap();
    assert_eq!(v["columns"], json!(["Database"]));
    assert!(first_column(&v).contains(&json!("wordpress")), "{v}");
    assert_eq!(v["truncated"], false);
    let v = sql(&net, m.nowp, None, "show databases;").await.unwrap();
    assert!(!first_column(&v).contains(&json!("wordpress")), "{v}");
}

#[tokio::test]
async fn mysql_read_only_is_seen_without_writing() {
    let m = mariadb();
    let net = db_net(&m);
    let v = sql(
        &net,
        m.reader,
        None,
        "SELECT @@read_only AS ro, @@innodb_read_only AS iro",
    )
    .await
    .unwrap();
    assert_eq!(v["columns"], json!(["ro", "iro"]));
    assert_eq!(v["rows"], json!([[1, 0]]));
    let v = sql(&net, m.writer, None, "SELECT @@read_only")
        .await
        .unwrap();
    assert_eq!(v["rows"], json!([[0]]));
    // The session itself is read-only whatever the server is.
    let v = sql(
        &net,
        m.writer,
        None,
        "SELECT @@session.transaction_read_only, @@session.tx_read_only",
    )
    .await;
    if let Ok(v) = v {
        assert_eq!(v["rows"][0][0], 1, "{v}");
    }
}

#[tokio::test]
async fn mysql_reads_siteurl_and_home() {
    let m = mariadb();
    let net = db_net(&m);
    let q = "SELECT option_name, option_value FROM wp_options \
             WHERE option_name IN ('siteurl', 'home') ORDER BY option_name";
    let v = sql(&net, m.writer, Some("wordpress"), q).await.unwrap();
    assert_eq!(v["rows"], json!([["home", ALB_URL], ["siteurl", ALB_URL]]));
    let v = sql(&net, m.oldurl, Some("wordpress"), q).await.unwrap();
    assert_eq!(v["rows"], json!([["home", OLD_URL], ["siteurl", OLD_URL]]));
    let v = sql(
        &net,
        m.writer,
        Some("wordpress"),
        "SELECT option_id, NULL AS n FROM wp_options WHERE option_name='siteurl'",
    )
    .await
    .unwrap();
    assert!(v["rows"][0][0].is_u64(), "{v}");
    assert_eq!(v["rows"][0][1], Value::Null);
}

#[tokio::test]
async fn mysql_unknown_database_is_not_found_1049() {
    let m = mariadb();
    let e = sql(&db_net(&m), m.nowp, Some("wordpress"), "SELECT 1")
        .await
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("1049"), "{e:?}");
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn mysql_rows_are_capped() {
    let m = mariadb();
    let q = "SELECT seq FROM seq_1_to_5000";
    let v = sql(&db_net(&m), m.writer, Some("wordpress"), q)
        .await
        .unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), mysql::MAX_ROWS);
    assert_eq!(v["truncated"], true);
    let q = "SELECT REPEAT('x', 600000) FROM seq_1_to_3";
    let v = sql(&db_net(&m), m.writer, Some("wordpress"), q)
        .await
        .unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    assert_eq!(v["truncated"], true);
}

#[tokio::test]
async fn mysql_refuses_writes_before_connecting() {
    // The port is closed: a statement that reached the network would fail with 2003.
    let port = servers::closed_port().await;
    let net = quick(NetConfig {
        mysql_password: Some(Secret::new("pw")),
        ..NetConfig::default()
    });
    let at = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    for statement in [
        "INSERT INTO wp_options (option_name, option_value) VALUES ('x', 'y')",
        "CREATE TABLE x (a INT)",
        "DELETE FROM wp_options",
        "UPDATE wp_options SET option_value = 'x'",
        "SELECT 1; DROP TABLE x",
        "SELECT * FROM wp_options INTO OUTFILE '/tmp/x'",
        "SELECT 1 INTO DUMPFILE '/tmp/y'",
        "SELECT * FROM wp_options FOR UPDATE",
        "select * from wp_options lock in share mode",
        "/*!40000 DROP TABLE x */ SELECT 1",
        "SET GLOBAL read_only = 0",
    ] {
        let e = sql(&net, at, Some("wordpress"), statement)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{statement}: {e:?}");
        assert!(
            e.message.contains("only a single SELECT or SHOW"),
            "{}",
            e.message
        );
        assert_eq!(e.code, None);
    }
    // And the same port really is closed: 2003.
    let e = sql(&net, at, None, "SELECT 1").await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("2003"), "{e:?}");
    assert_eq!(e.kind, ErrorKind::Network);
}

#[tokio::test]
async fn mysql_wrong_password_is_1045_and_never_echoed() {
    let m = mariadb();
    let wrong = format!("Wr0ng-{}-pass", std::process::id());
    let net = quick(NetConfig {
        mysql_password: Some(Secret::new(wrong.clone())),
        ..NetConfig::default()
    });
    let e = sql(&net, m.writer, None, "SELECT 1").await.unwrap_err();
    eprintln!("wrong password: {e:?}");
    assert_eq!(e.code.as_deref(), Some("1045"), "{e:?}");
    assert_eq!(e.kind, ErrorKind::Credentials);
    let shown = format!("{e} {e:?} {} {net:?}", serde_json::to_string(&e).unwrap());
    assert!(!shown.contains(&wrong), "{shown}");
    assert!(!shown.contains(&m.password), "{shown}");

    // A password in the request is refused with the way to give one.
    let e = mysql::call(
        &db_net(&m),
        "query",
        &json!({"host": "127.0.0.1", "port": m.writer.port(), "user": "admin", "sql": "SELECT 1", "password": "x"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.contains("--mysql-password-file"), "{}", e.message);

    // No password at all: also 1045, also nothing echoed.
    let e = sql(&quick(NetConfig::default()), m.writer, None, "SELECT 1")
        .await
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("1045"), "{e:?}");
}

#[tokio::test]
async fn mysql_connect_to_routes_the_cluster_endpoint() {
    let m = mariadb();
    let rule = format!("{CLUSTER}:3306:127.0.0.1:{}", m.writer.port());
    let net = NetConfig {
        connect_to: vec![connect_to(&rule)],
        ..db_net(&m)
    };
    let v = mysql::call(
        &net,
        "query",
        &json!({"host": CLUSTER.to_uppercase(), "user": "admin", "database": "wordpress",
                "sql": "SELECT option_value FROM wp_options WHERE option_name = 'siteurl'"}),
    )
    .await
    .unwrap();
    assert_eq!(v["rows"], json!([[ALB_URL]]));

    // Names are resolved with --dns-server after connect-to: a name the DNS server
    // does not know is 2005, and nothing is sent anywhere else.
    let net = NetConfig {
        dns_server: Some(lab_dns().await),
        ..db_net(&m)
    };
    let e = mysql::call(
        &net,
        "query",
        &json!({"host": "no-such-cluster.rds.amazonaws.com", "user": "admin", "sql": "SELECT 1"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("2005"), "{e:?}");
    assert_eq!(e.kind, ErrorKind::Network);
}

#[tokio::test]
async fn mysql_rejects_bad_requests() {
    let net = NetConfig::default();
    let e = mysql::call(
        &net,
        "query",
        &json!({"host": "127.0.0.1", "user": "a", "sql": "SELECT 1", "db": "x"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.contains("`db`"), "{}", e.message);
    let e = mysql::call(
        &net,
        "query",
        &json!({"host": "127.0.0.1", "user": "a", "sql": "SELECT 1", "port": "x"}),
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("`port`"), "{}", e.message);
    let e = mysql::call(&net, "exec", &json!({})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
}

// ----------------------------------------------------------------------------- http

fn alb_net(port: u16) -> NetConfig {
    quick(NetConfig {
        connect_to: vec![connect_to(&format!("{ALB}:80:127.0.0.1:{port}"))],
        ..NetConfig::default()
    })
}

#[tokio::test]
async fn http_gets_the_wordpress_page_through_the_alb_name() {
    let server = servers::http_server().await;
    let net = alb_net(server.port);
    let v = http::call(&net, "get", &json!({"url": format!("{ALB_URL}/")}))
        .await
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["status"], 200);
    assert_eq!(v["headers"]["server"], "nginx/1.24.0");
    assert_eq!(v["headers"]["content-type"], "text/html; charset=UTF-8");
    assert_eq!(v["body"], servers::WORDPRESS_PAGE);
    assert_eq!(v["truncated"], false);
    assert_eq!(v["url"], format!("{ALB_URL}/"));
    assert_eq!(v["redirects"], json!([]));
    assert!(v["elapsed_ms"].is_u64());
    // The server saw the original name, not 127.0.0.1.
    assert_eq!(server.hosts.lock().unwrap().last().unwrap(), ALB);

    let v = http::call(
        &net,
        "get",
        &json!({"url": format!("{ALB_URL}/echo"), "headers": {"X-Labrun-Test": "yes"}}),
    )
    .await
    .unwrap();
    let head = v["body"].as_str().unwrap();
    assert!(head.starts_with("GET /echo HTTP/1.1\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("x-labrun-test: yes"),
        "{head}"
    );
}

#[tokio::test]
async fn http_5xx_is_an_answer() {
    let server = servers::http_server().await;
    let v = http::call(
        &alb_net(server.port),
        "get",
        &json!({"url": format!("{ALB_URL}/down")}),
    )
    .await
    .unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["status"], 503);
    assert!(v["body"].as_str().unwrap().contains("503"));
}

#[tokio::test]
async fn http_redirects_are_reported_or_followed() {
    let server = servers::http_server().await;
    let net = alb_net(server.port);
    let v = http::call(&net, "get", &json!({"url": format!("{ALB_URL}/old")}))
        .await
        .unwrap();
    assert_eq!(v["status"], 301);
    assert_eq!(v["headers"]["location"], "/");
    assert_eq!(v["redirects"], json!([]));

    let v = http::call(
        &net,
        "get",
        &json!({"url": format!("{ALB_URL}/old"), "max_redirects": 3}),
    )
    .await
    .unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["url"], format!("{ALB_URL}/"));
    assert_eq!(v["redirects"], json!([format!("{ALB_URL}/")]));

    let v = http::call(
        &net,
        "get",
        &json!({"url": format!("{ALB_URL}/loop"), "max_redirects": 2}),
    )
    .await
    .unwrap();
    assert_eq!(v["status"], 302);
    assert_eq!(v["redirects"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn http_body_is_capped() {
    let server = servers::http_server().await;
    let net = alb_net(server.port);
    let v = http::call(&net, "get", &json!({"url": format!("{ALB_URL}/huge")}))
        .await
        .unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["truncated"], true);
    assert_eq!(v["body"].as_str().unwrap().len(), 256 * 1024);
    let v = http::call(
        &net,
        "get",
        &json!({"url": format!("{ALB_URL}/huge"), "max_body_bytes": 1000}),
    )
    .await
    .unwrap();
    assert_eq!(v["body"].as_str().unwrap().len(), 1000);
    let e = http::call(
        &net,
        "get",
        &json!({"url": ALB_URL, "max_body_bytes": 2_000_000}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn http_no_answer_is_a_failure_answer_not_an_error() {
    // A web server reached directly (E2): silent → timeout, closed → refused.
    let silent = servers::silent_listener().await;
    let closed = servers::closed_port().await;
    let net = quick(NetConfig {
        connect_to: vec![
            connect_to(&format!("54.250.1.2:80:127.0.0.1:{silent}")),
            connect_to(&format!("54.250.1.3:80:127.0.0.1:{closed}")),
        ],
        ..NetConfig::default()
    });
    let start = Instant::now();
    let v = http::call(
        &net,
        "get",
        &json!({"url": "http://54.250.1.2/", "timeout_ms": 500}),
    )
    .await
    .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(v["ok"], false);
    assert_eq!(v["failure"], "timeout", "{v}");
    assert!(v["elapsed_ms"].as_u64().unwrap() >= 400);

    let v = http::call(&net, "get", &json!({"url": "http://54.250.1.3/"}))
        .await
        .unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["failure"], "refused", "{v}");
    assert!(v["message"].as_str().unwrap().contains("127.0.0.1"), "{v}");

    // https to a plain-HTTP server: the TLS handshake fails.
    let server = servers::http_server().await;
    let net = quick(NetConfig {
        connect_to: vec![connect_to(&format!("{ALB}:443:127.0.0.1:{}", server.port))],
        ..NetConfig::default()
    });
    let v = http::call(&net, "get", &json!({"url": format!("https://{ALB}/")}))
        .await
        .unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["failure"], "tls", "{v}");
}

#[tokio::test]
async fn http_resolves_with_the_dns_server() {
    let server = servers::http_server().await;
    let net = quick(NetConfig {
        dns_server: Some(lab_dns().await),
        ..NetConfig::default()
    });
    let v = http::call(
        &net,
        "get",
        &json!({"url": format!("http://web.test:{}/", server.port)}),
    )
    .await
    .unwrap();
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(
        server.hosts.lock().unwrap().last().unwrap(),
        &format!("web.test:{}", server.port)
    );
    let v = http::call(&net, "get", &json!({"url": "http://nowhere.test/"}))
        .await
        .unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["failure"], "dns", "{v}");
}

#[tokio::test]
async fn http_rejects_malformed_requests() {
    let net = NetConfig::default();
    for (request, field) in [
        (json!({"url": "ftp://example.com/"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({}), "url"),
        (
            json!({"url": "http://x/", "timeout_ms": "soon"}),
            "timeout_ms",
        ),
        (json!({"url": "http://x/", "follow": true}), "follow"),
        (json!({"url": "http://x/", "headers": ["a"]}), "headers"),
    ] {
        let e = http::call(&net, "get", &request).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{request}");
        assert!(
            e.message.contains(&format!("`{field}`")),
            "{request}: {}",
            e.message
        );
    }
    let e = http::call(&net, "post", &json!({})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
}

// ----------------------------------------------------------------------------- tcp

#[tokio::test]
async fn tcp_connect_open_closed_and_silent() {
    let server = servers::http_server().await;
    let closed = servers::closed_port().await;
    let net = quick(NetConfig {
        connect_to: vec![
            connect_to(&format!(
                "ec2-54-250-1-2.ap-northeast-1.compute.amazonaws.com:80:127.0.0.1:{}",
                server.port
            )),
            connect_to(&format!("::127.0.0.1:{closed}")),
        ],
        ..NetConfig::default()
    });
    let v = tcp::call(
        &net,
        "connect",
        &json!({"host": "ec2-54-250-1-2.ap-northeast-1.compute.amazonaws.com", "port": 80}),
    )
    .await
    .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["address"], format!("127.0.0.1:{}", server.port));

    let v = tcp::call(&net, "connect", &json!({"host": "54.250.1.3", "port": 80}))
        .await
        .unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["failure"], "refused", "{v}");

    // Unknown name via the lab DNS server: dns.
    let net = quick(NetConfig {
        dns_server: Some(lab_dns().await),
        ..NetConfig::default()
    });
    let v = tcp::call(
        &net,
        "connect",
        &json!({"host": "nowhere.test", "port": 80}),
    )
    .await
    .unwrap();
    assert_eq!(v["failure"], "dns", "{v}");

    let e = tcp::call(&net, "connect", &json!({"host": "x"}))
        .await
        .unwrap_err();
    assert!(e.message.contains("`port`"), "{}", e.message);
    let e = tcp::call(&net, "listen", &json!({})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
}
