//! Connecting through a SOCKS5 proxy (ZMQ_SOCKS_PROXY, SOCKS_USERNAME, SOCKS_PASSWORD) to a
//! libzmq peer. The proxy is a small RFC 1928 server in the test: it checks what oxmq sends,
//! resolves the names it was told about, and relays bytes both ways.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use oxmq::{Context, SocketType};

/// What the proxy saw of one client.
#[derive(Debug, PartialEq)]
enum Seen {
    /// CONNECT to this host (as sent: an address or a name) and port.
    Connect(String, u16),
    /// The client offered no method the proxy accepts.
    NoMethod,
    /// Wrong credentials.
    BadCredentials,
}

struct Proxy {
    address: String,
    seen: mpsc::Receiver<Seen>,
}

/// Starts a proxy that serves `clients` connections, asking for `credentials` when given.
fn proxy(clients: usize, credentials: Option<(&'static str, &'static str)>) -> Proxy {
    proxy_with(clients, credentials, false)
}

/// [`proxy`], answering the first CONNECT with "connection refused" (reply code 5) when
/// `refuse_first` is set.
fn proxy_with(
    clients: usize,
    credentials: Option<(&'static str, &'static str)>,
    refuse_first: bool,
) -> Proxy {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, seen) = mpsc::channel();
    thread::spawn(move || {
        for n in 0..clients {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let tx = tx.clone();
            thread::spawn(move || serve(client, credentials, refuse_first && n == 0, &tx));
        }
    });
    Proxy { address, seen }
}

fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).unwrap();
    buf
}

fn serve(
    mut client: TcpStream,
    credentials: Option<(&str, &str)>,
    refuse: bool,
    seen: &mpsc::Sender<Seen>,
) {
    let head = read_exact(&mut client, 2);
    assert_eq!(head[0], 5, "SOCKS version");
    let methods = read_exact(&mut client, usize::from(head[1]));
    let wanted = if credentials.is_some() { 2 } else { 0 };
    if !methods.contains(&wanted) {
        client.write_all(&[5, 0xff]).unwrap();
        seen.send(Seen::NoMethod).unwrap();
        return;
    }
    client.write_all(&[5, wanted]).unwrap();
    if let Some((user, password)) = credentials {
        let version = read_exact(&mut client, 2);
        assert_eq!(version[0], 1, "RFC 1929 version");
        let got_user = read_exact(&mut client, usize::from(version[1]));
        let len = read_exact(&mut client, 1)[0];
        let got_password = read_exact(&mut client, usize::from(len));
        if got_user != user.as_bytes() || got_password != password.as_bytes() {
            client.write_all(&[1, 1]).unwrap();
            seen.send(Seen::BadCredentials).unwrap();
            return;
        }
        client.write_all(&[1, 0]).unwrap();
    }
    let request = read_exact(&mut client, 4);
    assert_eq!(&request[..3], [5, 1, 0], "CONNECT, reserved byte 0");
    let host = match request[3] {
        1 => Ipv4Addr::from(<[u8; 4]>::try_from(read_exact(&mut client, 4)).unwrap()).to_string(),
        3 => {
            let len = read_exact(&mut client, 1)[0];
            String::from_utf8(read_exact(&mut client, usize::from(len))).unwrap()
        }
        4 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(read_exact(&mut client, 16)).unwrap())
            .to_string(),
        other => panic!("address type {other}"),
    };
    let port = u16::from_be_bytes(read_exact(&mut client, 2).try_into().unwrap());
    seen.send(Seen::Connect(host.clone(), port)).unwrap();
    if refuse {
        client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
        return;
    }
    // Every name and address the tests use stands for this machine.
    let target = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).unwrap();
    // The reply names the bound address by name, which the client must skip whole.
    let mut reply = vec![5, 0, 0, 3, 9];
    reply.extend_from_slice(b"localhost");
    reply.extend_from_slice(&target.local_addr().unwrap().port().to_be_bytes());
    client.write_all(&reply).unwrap();
    relay(client, target);
}

fn relay(client: TcpStream, target: TcpStream) {
    let pump = |mut from: TcpStream, mut to: TcpStream| {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    };
    let (c2, t2) = (client.try_clone().unwrap(), target.try_clone().unwrap());
    thread::spawn(move || pump(c2, t2));
    pump(target, client);
}

/// A libzmq PUSH bound on loopback, and its port.
fn libzmq_push(ctx: &zmq::Context) -> (zmq::Socket, u16) {
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(0).unwrap();
    push.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = push.get_last_endpoint().unwrap().unwrap();
    let port = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    (push, port)
}

/// A PULL that connects through the SOCKS proxy at `proxy` to `endpoint`, giving `credentials`
/// (username, password) when set.
fn pull_via(
    ctx: &Context,
    proxy: &str,
    credentials: Option<(&[u8], &[u8])>,
    endpoint: &str,
) -> oxmq::Socket {
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_socks_proxy(Some(proxy)).unwrap();
    if let Some((user, password)) = credentials {
        pull.set_socks_username(user).unwrap();
        pull.set_socks_password(password).unwrap();
    }
    pull.connect(endpoint).unwrap();
    pull
}

/// Sends two messages from `push` and checks that `pull` gets them.
fn delivers(push: &zmq::Socket, pull: &oxmq::Socket) {
    pull.set_rcvtimeo(5000).unwrap();
    push.send("ABC", 0).unwrap();
    push.send("DEF", 0).unwrap();
    assert_eq!(pull.recv().unwrap()[0], b"ABC"[..]);
    assert_eq!(pull.recv().unwrap()[0], b"DEF"[..]);
}

#[test]
fn messages_go_through_the_proxy_to_addresses_and_to_names_only_it_resolves() {
    let lz = zmq::Context::new();
    let ctx = Context::new();
    for (host, sent) in [
        ("127.0.0.1", "127.0.0.1"),
        ("somedomainname.org", "somedomainname.org"),
        ("::1", "::1"),
        ("[::1]", "::1"),
    ] {
        let proxy = proxy(1, None);
        let (push, port) = libzmq_push(&lz);
        let pull = pull_via(&ctx, &proxy.address, None, &format!("tcp://{host}:{port}"));
        delivers(&push, &pull);
        assert_eq!(
            proxy.seen.recv_timeout(Duration::from_secs(5)).unwrap(),
            Seen::Connect(sent.to_owned(), port),
            "{host}"
        );
    }
}

#[test]
fn credentials_are_given_when_set_and_wrong_ones_never_connect() {
    let lz = zmq::Context::new();
    let ctx = Context::new();
    let proxy = proxy(1, Some(("someuser", "somepass")));
    let (push, port) = libzmq_push(&lz);
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let pull = pull_via(
        &ctx,
        &proxy.address,
        Some((b"someuser", b"somepass")),
        &endpoint,
    );
    delivers(&push, &pull);

    // Wrong password: refused, and retried (each attempt refused again), never delivered.
    let proxy = self::proxy(3, Some(("someuser", "somepass")));
    let (push, port) = libzmq_push(&lz);
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let pull = pull_via(
        &ctx,
        &proxy.address,
        Some((b"someuser", b"wrong")),
        &endpoint,
    );
    for _ in 0..2 {
        assert_eq!(
            proxy.seen.recv_timeout(Duration::from_secs(5)).unwrap(),
            Seen::BadCredentials
        );
    }
    push.send("never", zmq::DONTWAIT).unwrap_or(());
    pull.set_rcvtimeo(200).unwrap();
    assert!(pull.recv().is_err());

    // No credentials where the proxy wants them: no acceptable method.
    let proxy = self::proxy(1, Some(("someuser", "somepass")));
    let _pull = pull_via(&ctx, &proxy.address, None, &endpoint);
    assert_eq!(
        proxy.seen.recv_timeout(Duration::from_secs(5)).unwrap(),
        Seen::NoMethod
    );
}

#[test]
fn a_refused_connect_and_a_late_proxy_are_retried() {
    let lz = zmq::Context::new();
    let ctx = Context::new();
    // The proxy's first answer is "connection refused": the session dials again.
    let proxy = proxy_with(2, None, true);
    let (push, port) = libzmq_push(&lz);
    let pull = pull_via(
        &ctx,
        &proxy.address,
        None,
        &format!("tcp://127.0.0.1:{port}"),
    );
    delivers(&push, &pull);
    for _ in 0..2 {
        assert!(matches!(
            proxy.seen.recv_timeout(Duration::from_secs(5)).unwrap(),
            Seen::Connect(..)
        ));
    }

    // A proxy that starts listening only after the connect: refused until then.
    let reserved = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let address = reserved.local_addr().unwrap();
    drop(reserved);
    let (push, port) = libzmq_push(&lz);
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let pull = pull_via(&ctx, &address.to_string(), None, &endpoint);
    thread::sleep(Duration::from_millis(300));
    let listener = TcpListener::bind(address).unwrap();
    let (tx, _seen) = mpsc::channel();
    thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        serve(client, None, false, &tx);
    });
    delivers(&push, &pull);
}

#[test]
fn a_silent_proxy_is_given_up_after_the_handshake_interval() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, attempts) = mpsc::channel();
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            // Read the greeting, answer nothing, keep the connection open.
            let mut greeting = [0u8; 3];
            stream.read_exact(&mut greeting).unwrap();
            tx.send(greeting).unwrap();
            held.push(stream);
        }
    });
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_handshake_ivl(200).unwrap();
    pull.set_socks_proxy(Some(&address)).unwrap();
    pull.connect("tcp://127.0.0.1:5555").unwrap();
    for _ in 0..2 {
        let greeting = attempts.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(greeting, [5, 1, 0]);
    }
}

#[test]
fn proxy_options_are_checked_and_read_back() {
    use oxmq::{OptionValue, option_number};
    let ctx = Context::new();
    let sub = ctx.socket(SocketType::Sub).unwrap();
    assert_eq!(sub.set_socks_proxy(Some("")), Err(oxmq::Error::Invalid));
    assert_eq!(
        sub.set_socks_proxy(Some("nohost")),
        Err(oxmq::Error::Invalid)
    );
    sub.set_socks_proxy(Some("somehost:1080")).unwrap();
    assert_eq!(
        sub.option_value(option_number::SOCKS_PROXY),
        Ok(OptionValue::Text("somehost:1080".into()))
    );
    sub.set_option_raw(option_number::SOCKS_PROXY, b"").unwrap();
    assert_eq!(
        sub.option_value(option_number::SOCKS_PROXY),
        Ok(OptionValue::Text(String::new()))
    );
    let long = vec![b'a'; 256];
    assert_eq!(sub.set_socks_username(&long), Err(oxmq::Error::Invalid));
    assert_eq!(sub.set_socks_password(&long), Err(oxmq::Error::Invalid));
    sub.set_socks_username(&long[..255]).unwrap();
    assert_eq!(
        sub.option_value(option_number::SOCKS_USERNAME),
        Ok(OptionValue::Text("a".repeat(255)))
    );
    // With a proxy, a host name is not resolved at connect: the proxy will.
    sub.set_socks_proxy(Some("127.0.0.1:1")).unwrap();
    sub.connect("tcp://no.such.host.invalid:5555").unwrap();
    sub.set_socks_proxy(None).unwrap();
    assert!(sub.connect("tcp://no.such.host.invalid:5555").is_err());
}
