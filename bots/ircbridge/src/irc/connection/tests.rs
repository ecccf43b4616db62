//! Tests of `connection`.

use super::*;
use tokio::net::TcpListener;

async fn read_msg(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Message {
    let mut line = String::new();
    let n = tokio::time::timeout(Duration::from_secs(5), read.read_line(&mut line))
        .await
        .expect("a line in time")
        .expect("read");
    assert!(n > 0, "closed");
    Message::parse(&line).expect("parses")
}

#[tokio::test]
async fn a_nick_too_long_for_the_server_is_cut_to_nine_characters() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (handle, mut events) = IrcHandle::spawn(IrcConfig::new("127.0.0.1", port, "matrixbridge"));
    let (stream, _) = listener.accept().await.expect("accept");
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    assert_eq!(
        read_msg(&mut read).await,
        Message::new("NICK", ["matrixbridge"])
    );
    assert_eq!(read_msg(&mut read).await.command, "USER");
    write
        .write_all(b":irc.test 432 * matrixbridge :Nickname too long, max. 9 characters\r\n")
        .await
        .expect("w");
    assert_eq!(
        read_msg(&mut read).await,
        Message::new("NICK", ["matrixbri"])
    );
    // Taken too: the alternatives stay within 9 characters.
    write
        .write_all(b":irc.test 433 * matrixbri :Nickname is already in use\r\n")
        .await
        .expect("w");
    assert_eq!(
        read_msg(&mut read).await,
        Message::new("NICK", ["matrixbr_"])
    );
    write
        .write_all(b":irc.test 001 matrixbr_ :Welcome\r\n")
        .await
        .expect("w");
    assert_eq!(
        events.recv().await,
        Some(IrcEvent::Connected {
            nick: "matrixbr_".into()
        })
    );
    handle.quit("bye").await;
}

#[tokio::test]
async fn registers_around_a_taken_nick_answers_pings_and_paces_lines() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut config = IrcConfig::new("127.0.0.1", port, "bridge");
    config.flood_burst = 2;
    config.flood_per_second = 10.0;
    let (handle, mut events) = IrcHandle::spawn(config);
    handle.join("#a");
    for i in 0..5 {
        handle.privmsg("#a", &format!("m{i}")).expect("room");
    }
    let (stream, _) = listener.accept().await.expect("accept");
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    assert_eq!(read_msg(&mut read).await, Message::new("NICK", ["bridge"]));
    assert_eq!(read_msg(&mut read).await.command, "USER");
    write
        .write_all(b":irc.test 433 * bridge :Nickname is already in use\r\n")
        .await
        .expect("w");
    assert_eq!(read_msg(&mut read).await, Message::new("NICK", ["bridge_"]));
    write
        .write_all(b":irc.test 001 bridge_ :Welcome\r\nPING :tok\r\n")
        .await
        .expect("w");
    assert_eq!(
        events.recv().await,
        Some(IrcEvent::Connected {
            nick: "bridge_".into()
        })
    );
    assert_eq!(handle.nick(), "bridge_");
    // The rejoin and the PONG skip the queue; then the 5 lines, paced.
    let mut got = Vec::new();
    let start = Instant::now();
    while got.len() < 7 {
        got.push(read_msg(&mut read).await.to_line());
    }
    assert!(
        got.contains(&"JOIN #a".to_owned()) && got.contains(&"PONG tok".to_owned()),
        "{got:?}"
    );
    let privmsgs: Vec<&String> = got.iter().filter(|l| l.starts_with("PRIVMSG")).collect();
    assert_eq!(
        privmsgs,
        [
            "PRIVMSG #a m0",
            "PRIVMSG #a m1",
            "PRIVMSG #a m2",
            "PRIVMSG #a m3",
            "PRIVMSG #a m4"
        ]
    );
    // Burst 2, then 10 a second: 3 more lines take at least ~0.3 s.
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );

    // The server hangs up: the bridge hears of it and reconnects.
    drop((read, write));
    assert!(matches!(
        events.recv().await,
        Some(IrcEvent::Disconnected { .. })
    ));
    let (stream, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("a reconnect in time")
        .expect("accept");
    let mut read = BufReader::new(stream);
    assert_eq!(
        read_msg_any(&mut read).await,
        Message::new("NICK", ["bridge"])
    );
    handle.quit("bye").await;
}

#[tokio::test]
async fn a_flooded_channel_neither_grows_without_bound_nor_delays_another() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut config = IrcConfig::new("127.0.0.1", port, "bridge");
    config.flood_burst = 1;
    config.flood_per_second = 20.0;
    config.queue = QueueLimits {
        per_channel: 40,
        total: 60,
        control: 10,
    };
    let (handle, mut events) = IrcHandle::spawn(config);
    for i in 0..40 {
        handle
            .privmsg("#busy", &format!("flood {i}"))
            .expect("room");
    }
    assert!(matches!(
        handle.privmsg("#busy", "one too many"),
        Err(QueueError::ChannelFull { .. })
    ));
    handle.privmsg("#quiet", "hello").expect("room");
    let (stream, _) = listener.accept().await.expect("accept");
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    assert_eq!(read_msg(&mut read).await.command, "NICK");
    assert_eq!(read_msg(&mut read).await.command, "USER");
    write
        .write_all(b":irc.test 001 bridge :Welcome\r\n")
        .await
        .expect("w");
    assert!(matches!(
        events.recv().await,
        Some(IrcEvent::Connected { .. })
    ));
    // The quiet channel's line is the second one out, not the 41st.
    let first = read_msg(&mut read).await;
    let second = read_msg(&mut read).await;
    assert_eq!(first, Message::new("PRIVMSG", ["#busy", "flood 0"]));
    assert_eq!(second, Message::new("PRIVMSG", ["#quiet", "hello"]));
    handle.quit("bye").await;
}

#[tokio::test]
async fn no_line_written_passes_512_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (handle, mut events) = IrcHandle::spawn(IrcConfig::new("127.0.0.1", port, "bridge"));
    handle.privmsg("#a", &"é".repeat(400)).expect("room");
    let (stream, _) = listener.accept().await.expect("accept");
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    assert_eq!(read_msg(&mut read).await.command, "NICK");
    assert_eq!(read_msg(&mut read).await.command, "USER");
    write
        .write_all(b":irc.test 001 bridge :Welcome\r\n")
        .await
        .expect("w");
    assert!(matches!(
        events.recv().await,
        Some(IrcEvent::Connected { .. })
    ));
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), read.read_line(&mut line))
        .await
        .expect("a line in time")
        .expect("read");
    assert!(
        line.len() <= 512 && line.ends_with("\r\n"),
        "{}",
        line.len()
    );
    assert!(line.starts_with("PRIVMSG #a é"), "{line}");
    handle.quit("bye").await;
}

async fn read_msg_any(read: &mut BufReader<TcpStream>) -> Message {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), read.read_line(&mut line))
        .await
        .expect("a line in time")
        .expect("read");
    Message::parse(&line).expect("parses")
}
