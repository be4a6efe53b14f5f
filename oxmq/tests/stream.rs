//! STREAM: raw connections behind routing ids, modelled on libzmq's `test_stream.cpp`,
//! `test_stream_disconnect.cpp` and `test_stream_empty.cpp`, with plain TCP peers and with
//! libzmq's STREAM.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::socket;
use oxmq::{Context, Error, Message, SocketType};

fn read_some(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).expect("read from oxmq");
    buf
}

#[test]
fn a_server_talks_to_a_plain_tcp_client() {
    let ctx = Context::new();
    let server = socket(&ctx, SocketType::Stream);
    server.bind("tcp://127.0.0.1:*").unwrap();
    let address = server
        .last_endpoint()
        .trim_start_matches("tcp://")
        .to_owned();
    let mut client = TcpStream::connect(&address).unwrap();

    let hello = server.recv().unwrap();
    assert_eq!(hello.len(), 2);
    let id = hello[0].to_vec();
    assert_eq!(id.len(), 5, "a generated routing id");
    assert_eq!(id[0], 0);
    assert_eq!(hello[1], b"", "connect notification");

    client.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut request = Vec::new();
    while request.len() < 18 {
        let msg = server.recv().unwrap();
        assert_eq!(msg[0], id.as_slice());
        request.extend_from_slice(&msg[1]);
    }
    assert_eq!(request, b"GET / HTTP/1.0\r\n\r\n");

    server
        .send(Message::from_frames([
            id.as_slice(),
            b"HTTP/1.0 200 OK\r\n",
        ]))
        .unwrap();
    assert_eq!(read_some(&mut client, 17), b"HTTP/1.0 200 OK\r\n");

    // An empty frame closes the connection; the client sees the end of the stream.
    server
        .send(Message::from_frames([id.as_slice(), b""]))
        .unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    // And the id no longer routes.
    let err = server
        .try_send(Message::from_frames([id.as_slice(), b"late"]))
        .unwrap_err();
    assert_eq!(err.error(), Error::HostUnreachable);
}

#[test]
fn a_client_dropping_the_connection_is_notified() {
    let ctx = Context::new();
    let server = socket(&ctx, SocketType::Stream);
    server.bind("tcp://127.0.0.1:*").unwrap();
    let address = server
        .last_endpoint()
        .trim_start_matches("tcp://")
        .to_owned();
    let client = TcpStream::connect(&address).unwrap();
    let hello = server.recv().unwrap();
    assert_eq!(hello[1], b"");
    drop(client);
    let bye = server.recv().unwrap();
    assert_eq!(bye[0], hello[0], "same routing id");
    assert_eq!(bye[1], b"", "disconnect notification");
}

#[test]
fn a_stream_socket_connects_out() {
    let ctx = Context::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = socket(&ctx, SocketType::Stream);
    client
        .connect(&format!("tcp://{}", listener.local_addr().unwrap()))
        .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let hello = client.recv().unwrap();
    assert_eq!(hello[1], b"");
    let id = hello[0].to_vec();
    client
        .send(Message::from_frames([id.as_slice(), b"ping"]))
        .unwrap();
    assert_eq!(read_some(&mut peer, 4), b"ping");
    // Bytes that are not ZMTP are just bytes.
    peer.write_all(b"\xff\x00\x00garbage\x01").unwrap();
    let mut got = Vec::new();
    while got.len() < 11 {
        let msg = client.recv().unwrap();
        assert_eq!(msg[0], id.as_slice());
        got.extend_from_slice(&msg[1]);
    }
    assert_eq!(got, b"\xff\x00\x00garbage\x01");
}

#[test]
fn notifications_can_be_turned_off_and_unknown_ids_fail() {
    let ctx = Context::new();
    let server = socket(&ctx, SocketType::Stream);
    server.set_stream_notify(false).unwrap();
    server.bind("tcp://127.0.0.1:*").unwrap();
    let address = server
        .last_endpoint()
        .trim_start_matches("tcp://")
        .to_owned();
    let mut client = TcpStream::connect(&address).unwrap();
    client.write_all(b"data").unwrap();
    let msg = server.recv().unwrap();
    assert_eq!(msg[1], b"data", "no notification first");
    let err = server
        .try_send(Message::from_frames([&b"\x00nope"[..], b"x"]))
        .unwrap_err();
    assert_eq!(err.error(), Error::HostUnreachable);
    assert_eq!(err.into_message().len(), 2, "the message comes back whole");
    let pair = ctx.socket(SocketType::Pair).unwrap();
    assert_eq!(pair.set_stream_notify(false), Err(Error::Invalid));
    assert_eq!(
        server.bind("inproc://stream"),
        Err(Error::NoCompatibleProtocol),
        "STREAM needs a byte stream"
    );
}

#[test]
fn interoperates_with_libzmq_stream() {
    // oxmq STREAM server, libzmq STREAM client, and the other way round.
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let server = socket(&ctx, SocketType::Stream);
    server.bind("tcp://127.0.0.1:*").unwrap();
    let client = zctx.socket(zmq::STREAM).unwrap();
    client.set_rcvtimeo(5000).unwrap();
    client.connect(&server.last_endpoint()).unwrap();
    let hello = server.recv().unwrap();
    assert_eq!(hello[1], b"");
    let zhello = client.recv_multipart(0).unwrap();
    assert_eq!(zhello[1], b"");
    client
        .send_multipart([zhello[0].as_slice(), b"from libzmq"], 0)
        .unwrap();
    let msg = server.recv().unwrap();
    assert_eq!(msg[1], b"from libzmq");
    server
        .send(Message::from_frames([&hello[0][..], b"from oxmq"]))
        .unwrap();
    let reply = client.recv_multipart(0).unwrap();
    assert_eq!(reply[1], b"from oxmq");

    let zserver = zctx.socket(zmq::STREAM).unwrap();
    zserver.set_rcvtimeo(5000).unwrap();
    zserver.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = zserver.get_last_endpoint().unwrap().unwrap();
    let oclient = socket(&ctx, SocketType::Stream);
    oclient.connect(&endpoint).unwrap();
    let ohello = oclient.recv().unwrap();
    let zhello = zserver.recv_multipart(0).unwrap();
    assert_eq!(zhello[1], b"");
    oclient
        .send(Message::from_frames([&ohello[0][..], b"hi"]))
        .unwrap();
    let got = zserver.recv_multipart(0).unwrap();
    assert_eq!(got[1], b"hi");
    // libzmq 4.3's STREAM does not close a connection on an empty frame as its manual says
    // (the pipe goes, the TCP connection stays): close the socket instead.
    zserver.set_linger(0).unwrap();
    drop(zserver);
    let bye = oclient.recv().unwrap();
    assert_eq!(
        (bye[0].as_bytes(), bye[1].as_bytes()),
        (&ohello[0][..], &b""[..])
    );
}

#[test]
fn a_connecting_stream_is_told_when_the_server_hangs_up() {
    let ctx = Context::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = socket(&ctx, SocketType::Stream);
    client.set_reconnect_ivl(-1).unwrap();
    client
        .connect(&format!("tcp://{}", listener.local_addr().unwrap()))
        .unwrap();
    let (peer, _) = listener.accept().unwrap();
    let hello = client.recv().unwrap();
    drop(peer);
    let bye = client.recv().unwrap();
    assert_eq!(
        (bye[0].as_bytes(), bye[1].as_bytes()),
        (&hello[0][..], &b""[..])
    );
}

#[test]
fn connect_routing_id_names_the_connection() {
    let ctx = Context::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = socket(&ctx, SocketType::Stream);
    client.set_connect_routing_id(b"web").unwrap();
    client
        .connect(&format!("tcp://{}", listener.local_addr().unwrap()))
        .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let hello = client.recv().unwrap();
    assert_eq!(hello[0], b"web");
    client
        .send(Message::from_frames([&b"web"[..], b"GET /"]))
        .unwrap();
    assert_eq!(read_some(&mut peer, 5), b"GET /");
}
